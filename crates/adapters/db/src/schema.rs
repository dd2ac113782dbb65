//! The one portable diesel schema, valid for both SQLite and PostgreSQL (same names in both migration folders).
#![allow(missing_docs)]

diesel::table! {
    environments (id) {
        id -> Text,
        name -> Text,
        icon -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    projects (env_id, id) {
        env_id -> Text,
        id -> Text,
        name -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    builds (env_id, project_id, build_id) {
        env_id -> Text,
        project_id -> Text,
        build_id -> Text,
        status -> Text,
        created_at -> Timestamp,
        completed_at -> Nullable<Timestamp>,
        uploaded_by -> Text,
        has_report -> Bool,
        stats_total -> BigInt,
        stats_passed -> BigInt,
        stats_failed -> BigInt,
        stats_broken -> BigInt,
        stats_skipped -> BigInt,
        stats_unknown -> BigInt,
        duration_ms -> BigInt,
        quality_gate -> Nullable<Text>,
        warnings -> Text,
        error -> Nullable<Text>,
        config -> Text,
        history_entry -> Nullable<Text>,
        longest_test_ms -> BigInt,
        report_key -> Nullable<Text>,
        stored_bytes -> Nullable<BigInt>,
    }
}

diesel::table! {
    upload_sessions (id) {
        id -> Text,
        kind -> Text,
        env_id -> Text,
        project_id -> Text,
        build_id -> Text,
        file_name -> Nullable<Text>,
        total_size -> Nullable<BigInt>,
        total_chunks -> BigInt,
        received_chunks -> BigInt,
        phase -> Text,
        failed_at_phase -> Nullable<Text>,
        error -> Nullable<Text>,
        uploaded_by -> Text,
        owner -> Text,
        sha256 -> Nullable<Text>,
        report_config -> Nullable<Text>,
        replace_existing -> Bool,
        started_at -> Timestamp,
        updated_at -> Timestamp,
        completed_at -> Nullable<Timestamp>,
        report_url -> Nullable<Text>,
        stats -> Nullable<Text>,
    }
}

diesel::table! {
    upload_chunks (upload_id, chunk_index) {
        upload_id -> Text,
        chunk_index -> BigInt,
        size -> BigInt,
        sha256 -> Nullable<Text>,
        stored_at -> Timestamp,
    }
}

diesel::table! {
    generation_jobs (id) {
        id -> Text,
        env_id -> Text,
        project_id -> Text,
        build_id -> Text,
        upload_id -> Nullable<Text>,
        state -> Text,
        config -> Text,
        attempts -> BigInt,
        created_at -> Timestamp,
        started_at -> Nullable<Timestamp>,
        finished_at -> Nullable<Timestamp>,
        error -> Nullable<Text>,
        node_id -> Nullable<Text>,
        lease_until -> Nullable<Timestamp>,
    }
}

diesel::table! {
    users (email) {
        email -> Text,
        name -> Text,
        avatar_url -> Nullable<Text>,
        provider -> Text,
        password_hash -> Nullable<Text>,
        first_login_at -> Timestamp,
        last_login_at -> Timestamp,
    }
}

diesel::table! {
    nodes (id) {
        id -> Text,
        version -> Text,
        allure_version -> Nullable<Text>,
        started_at -> Timestamp,
        heartbeat_at -> Timestamp,
    }
}

diesel::table! {
    role_overrides (email) {
        email -> Text,
        role -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    login_sessions (token_hash) {
        token_hash -> Text,
        email -> Text,
        role -> Nullable<Text>,
        provider -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    api_keys (id) {
        id -> Text,
        name -> Text,
        role -> Text,
        prefix -> Text,
        key_hash -> Text,
        created_by -> Text,
        created_at -> Timestamp,
        last_used_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
        auto_create -> Bool,
    }
}

diesel::table! {
    settings (name) {
        name -> Text,
        value -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    cleanup_runs (id) {
        id -> Text,
        started_at -> Timestamp,
        finished_at -> Timestamp,
        status -> Text,
        trigger_kind -> Text,
        deleted_count -> BigInt,
        skipped_count -> BigInt,
        freed_bytes -> BigInt,
        dry_run -> Bool,
        error_message -> Nullable<Text>,
    }
}

diesel::table! {
    notifications (id) {
        id -> Text,
        title -> Text,
        body -> Text,
        category -> Text,
        severity -> Text,
        payload -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    notification_states (notification_id, principal) {
        notification_id -> Text,
        principal -> Text,
        read_at -> Nullable<Timestamp>,
        hidden_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    build_totals (env_id, project_id) {
        env_id -> Text,
        project_id -> Text,
        build_count -> BigInt,
        passed -> BigInt,
        failed -> BigInt,
        skipped -> BigInt,
    }
}

diesel::table! {
    build_days (env_id, project_id, day) {
        env_id -> Text,
        project_id -> Text,
        day -> Text,
        build_count -> BigInt,
        passed -> BigInt,
        failed -> BigInt,
        skipped -> BigInt,
    }
}

diesel::table! {
    build_env_days (env_id, day) {
        env_id -> Text,
        day -> Text,
        build_count -> BigInt,
        passed -> BigInt,
        failed -> BigInt,
        skipped -> BigInt,
    }
}

diesel::table! {
    stale_reports (env_id, project_id, build_id) {
        env_id -> Text,
        project_id -> Text,
        build_id -> Text,
    }
}

diesel::joinable!(projects -> environments (env_id));
diesel::joinable!(notification_states -> notifications (notification_id));
diesel::joinable!(login_sessions -> users (email));

diesel::allow_tables_to_appear_in_same_query!(
    environments,
    projects,
    builds,
    upload_sessions,
    upload_chunks,
    generation_jobs,
    users,
    nodes,
    role_overrides,
    login_sessions,
    api_keys,
    settings,
    cleanup_runs,
    notifications,
    notification_states,
    build_totals,
    build_days,
    build_env_days,
    stale_reports,
);
