//! A filtered, sorted and paged list query with its count, built once for the listing endpoints of every service
//! (flows, templates, …): clauses bind their values as numbered placeholders, so the SQL runs on both databases.

use sqlx::{any::AnyRow, AnyPool};

use crate::{like_pattern, StoreError};

/// Collects `WHERE` clauses and their bound text values.
#[derive(Debug, Default)]
pub struct ListSql {
    clauses: Vec<String>,
    binds: Vec<String>,
    order: Option<(String, bool)>,
}

impl ListSql {
    /// An empty filter.
    pub fn new() -> Self {
        ListSql::default()
    }

    /// Binds `value` and returns its placeholder (`$n`).
    pub fn bind(&mut self, value: impl Into<String>) -> String {
        self.binds.push(value.into());
        format!("${}", self.binds.len())
    }

    /// Adds a clause (combined with `AND`).
    pub fn clause(&mut self, clause: String) {
        self.clauses.push(clause);
    }

    /// `column = value`.
    pub fn equals(&mut self, column: &str, value: impl Into<String>) {
        let p = self.bind(value);
        self.clause(format!("{column} = {p}"));
    }

    /// Rows owned by any of `owner_ids` in the ownership table `owners` (`owner_id`, `<key>`), joined on `table.id`.
    pub fn owned_by(&mut self, table: &str, owners: &str, key: &str, owner_ids: &[String]) {
        let list: Vec<String> = owner_ids.iter().map(|o| self.bind(o.clone())).collect();
        self.clause(format!(
            "EXISTS (SELECT 1 FROM {owners} o WHERE o.{key} = {table}.id AND o.owner_id IN ({}))",
            list.join(", ")
        ));
    }

    /// Case-insensitive literal substring of the lower-cased `search_text` column.
    pub fn search(&mut self, needle: &str) {
        let p = self.bind(like_pattern(needle));
        self.clause(format!("search_text LIKE {p} ESCAPE '\\'"));
    }

    /// Orders by `column` (then `id`, in the same direction); the default is `created_at` ascending.
    pub fn order_by(&mut self, column: &str, descending: bool) {
        self.order = Some((column.to_owned(), descending));
    }

    /// Runs `SELECT columns FROM table WHERE … ORDER BY …, id LIMIT … OFFSET …` and the matching `COUNT(*)`.
    pub async fn fetch(
        &self,
        pool: &AnyPool,
        table: &str,
        columns: &str,
        page_size: u32,
        page_number: u32,
    ) -> Result<(Vec<AnyRow>, u64), StoreError> {
        let (sort, descending) = self
            .order
            .clone()
            .unwrap_or_else(|| ("created_at".to_owned(), false));
        let filter = if self.clauses.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.clauses.join(" AND "))
        };
        let dir = if descending { "DESC" } else { "ASC" };
        let count_sql = format!("SELECT COUNT(*) FROM {table}{filter}");
        let page_sql = format!(
            "SELECT {columns} FROM {table}{filter} ORDER BY {sort} {dir}, id {dir} LIMIT {page_size} OFFSET {}",
            (page_number.max(1) as i64 - 1) * page_size as i64
        );
        let mut count = sqlx::query_scalar::<_, i64>(&count_sql);
        let mut page = sqlx::query(&page_sql);
        for b in &self.binds {
            count = count.bind(b.as_str());
            page = page.bind(b.as_str());
        }
        let total = count.fetch_one(pool).await?;
        let rows = page.fetch_all(pool).await?;
        Ok((rows, total.max(0) as u64))
    }
}
