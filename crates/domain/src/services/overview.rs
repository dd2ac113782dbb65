//! The dashboard (contract §11.1): figures computed by the database for the filtered scope, with the 30 daily
//! trend entries ending on today's UTC date.

use std::sync::Arc;

use thiserror::Error;

use crate::model::overview::{Overview, OverviewFilter};
use crate::ports::{Clock, OverviewQueries, StoreError};

/// Why the dashboard could not be computed. Filters are parsed at the edge, and filters matching nothing give
/// zeros, so only the database can fail.
#[derive(Debug, Error)]
pub enum OverviewError {
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The ports [`OverviewService`] works through, named so that two of one type cannot be swapped.
#[derive(Clone)]
pub struct OverviewPorts {
    /// The dashboard's queries.
    pub queries: Arc<dyn OverviewQueries>,
    /// Today's date, where the daily trends end.
    pub clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for OverviewPorts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OverviewPorts").finish_non_exhaustive()
    }
}

/// The dashboard use case.
#[derive(Clone)]
pub struct OverviewService {
    queries: Arc<dyn OverviewQueries>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for OverviewService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OverviewService").finish_non_exhaustive()
    }
}

impl OverviewService {
    /// Wires the use case.
    pub fn new(ports: OverviewPorts) -> Self {
        let OverviewPorts { queries, clock } = ports;
        Self { queries, clock }
    }

    /// The dashboard for `filter`, its daily trends ending on the clock's UTC date.
    ///
    /// # Errors
    /// A database failure.
    pub async fn overview(&self, filter: &OverviewFilter) -> Result<Overview, OverviewError> {
        let today = self.clock.now().date_naive();
        Ok(self.queries.overview(filter, today).await?)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use chrono::NaiveDate;

    use super::*;
    use crate::ids::EnvId;
    use crate::model::overview::OverviewSummary;
    use crate::ports::clock::MockClock;
    use crate::ports::repos::MockOverviewQueries;

    fn clock_at(rfc3339: &str) -> Arc<MockClock> {
        let now = chrono::DateTime::parse_from_rfc3339(rfc3339).unwrap().to_utc();
        let mut clock = MockClock::new();
        clock.expect_now().returning(move || now);
        Arc::new(clock)
    }

    #[tokio::test]
    async fn today_is_the_utc_date_and_the_filter_is_passed_through() {
        let filter = OverviewFilter { env_id: Some(EnvId::parse("staging").unwrap()), project_id: None };
        let mut queries = MockOverviewQueries::new();
        let expected = filter.clone();
        queries
            .expect_overview()
            .withf(move |f, today| *f == expected && *today == NaiveDate::from_ymd_opt(2026, 4, 7).unwrap())
            .times(1)
            .returning(|_, _| {
                Ok(Overview {
                    summary: OverviewSummary { total_builds: 7, ..OverviewSummary::default() },
                    daily_trends: vec![],
                    top_failing_projects: vec![],
                    recent_builds: vec![],
                    project_build_trend: vec![],
                })
            });
        // 23:30 UTC; a local clock east of UTC would already say the 8th.
        let service =
            OverviewService::new(OverviewPorts { queries: Arc::new(queries), clock: clock_at("2026-04-07T23:30:00Z") });
        assert_eq!(service.overview(&filter).await.unwrap().summary.total_builds, 7);
    }

    #[tokio::test]
    async fn a_database_failure_is_reported() {
        let mut queries = MockOverviewQueries::new();
        queries.expect_overview().returning(|_, _| Err(StoreError::Unavailable("down".into())));
        let service =
            OverviewService::new(OverviewPorts { queries: Arc::new(queries), clock: clock_at("2026-04-07T10:00:00Z") });
        let err = service.overview(&OverviewFilter::default()).await.unwrap_err();
        assert!(matches!(err, OverviewError::Store(StoreError::Unavailable(_))));
    }
}
