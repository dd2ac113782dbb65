//! Paginated lists.

/// One page of a list, with the count of every item matching the filters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// Items of this page.
    pub items: Vec<T>,
    /// Items matching the filters, ignoring limit and offset.
    pub total: i64,
}

/// Which slice of a list to return; limits are validated at the edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    /// Most items to return (at least 1).
    pub limit: i64,
    /// Items to skip.
    pub offset: i64,
}
