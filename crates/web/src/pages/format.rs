//! Text for people, shared by the pages: times, rates, byte counts, durations, and the URL of a project page.
//! Rows hold display-ready text computed here, where it can be unit-tested, so templates stay free of logic.

/// Display of an optional percentage.
pub fn rate_text(rate: Option<i64>) -> String {
    rate.map_or_else(|| "–".to_owned(), |r| format!("{r}%"))
}

/// The display form of a time: minutes precision, UTC.
pub fn time_text(at: &hub_domain::Timestamp) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// The page of a project.
pub fn project_url(env: &str, project: &str) -> String {
    format!("/environments/{env}/projects/{project}")
}

/// A byte count for people, in binary units: `512 B`, `1.5 KiB`, `12.4 GiB`.
pub fn bytes_text(bytes: i64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    let bytes = bytes.max(0);
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// A duration in milliseconds for people: `850 ms`, `12.3 s`, `4 min 05 s`.
pub fn duration_text(ms: i64) -> String {
    let ms = ms.max(0);
    match ms {
        0..=999 => format!("{ms} ms"),
        1_000..=59_999 => format!("{:.1} s", ms as f64 / 1000.0),
        _ => format!("{} min {:02} s", ms / 60_000, (ms % 60_000) / 1000),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_counts_use_binary_units() {
        assert_eq!(bytes_text(512), "512 B");
        assert_eq!(bytes_text(1536), "1.5 KiB");
        assert_eq!(bytes_text(13_314_398_618), "12.4 GiB");
        assert_eq!(bytes_text(-1), "0 B");
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration_text(850), "850 ms");
        assert_eq!(duration_text(12_340), "12.3 s");
        assert_eq!(duration_text(245_000), "4 min 05 s");
        assert_eq!(duration_text(-5), "0 ms");
    }
}
