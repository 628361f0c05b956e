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
    scope: Option<TenantScope>,
    /// A table whose `total` column adds up to every row ([`ListSql::count_all_from`]).
    totals: Option<String>,
}

/// The scope of a tenant member ([`ListSql::tenant_scope`]): the placeholders of its clause's values.
#[derive(Debug)]
struct TenantScope {
    /// Its place in `clauses`.
    clause: usize,
    /// `tenant = $t AND owned_by_tenant = 1`.
    tenant_owned: String,
    /// `tenant = $t AND owned_by_tenant = 0 AND EXISTS (… owner in the others)`, `None` without others.
    others: Option<String>,
    /// The tenant's placeholder.
    tenant: String,
    /// The placeholders of the others.
    others_binds: Vec<String>,
    /// The counter tables of [`ListSql::count_owned_from`].
    counts: Option<(String, String)>,
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

    /// Rows of `tenant` owned by it or by any of `others` (the caller): `table` has the columns `tenant` and
    /// `owned_by_tenant` (1 when the row's tenant is among its owners in `owners` (`owner_id`, `<key>`), else 0).
    /// The same rows as [`ListSql::owned_by`] with the tenant among the owner ids, but the owners table is only
    /// probed for the rows their tenant does not own, and the count adds two index-answerable counts instead of
    /// probing every row of the tenant.
    pub fn tenant_scope(&mut self, table: &str, owners: &str, key: &str, tenant: &str, others: &[String]) {
        let t = self.bind(tenant);
        let tenant_owned = format!("tenant = {t} AND owned_by_tenant = 1");
        let list: Vec<String> = others.iter().map(|o| self.bind(o.clone())).collect();
        let others = (!list.is_empty()).then(|| {
            format!(
                "EXISTS (SELECT 1 FROM {owners} o WHERE o.{key} = {table}.id AND o.owner_id IN ({}))",
                list.join(", ")
            )
        });
        let clause = self.clauses.len();
        match &others {
            Some(exists) => self.clause(format!("tenant = {t} AND (owned_by_tenant = 1 OR {exists})")),
            None => self.clause(tenant_owned.clone()),
        }
        self.scope = Some(TenantScope {
            clause,
            tenant_owned,
            others: others.map(|exists| format!("tenant = {t} AND owned_by_tenant = 0 AND {exists}")),
            tenant: t,
            others_binds: list,
            counts: None,
        });
    }

    /// Without a [`ListSql::tenant_scope`]: the `total` column of `counts` adds up, exactly, to the number of rows
    /// (kept by triggers), so a count with no clause sums it instead of counting the table.
    pub fn count_all_from(&mut self, counts: &str) {
        self.totals = Some(counts.to_owned());
    }

    /// With a [`ListSql::tenant_scope`]: `owned` (`tenant`, `owned`) holds, exactly, how many rows each tenant
    /// owns, and `private` (`owner_id`, `tenant`, `n`) how many rows of each tenant it does not own list each owner
    /// (both kept by triggers), so a count with no other clause reads a row of each instead of stepping through
    /// every row in scope (the private count only for a single other owner, where the sum cannot count a row
    /// twice).
    pub fn count_owned_from(&mut self, owned: &str, private: &str) {
        if let Some(scope) = &mut self.scope {
            scope.counts = Some((owned.to_owned(), private.to_owned()));
        }
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
        let filter = where_clause(self.clauses.iter().map(String::as_str));
        let dir = if descending { "DESC" } else { "ASC" };
        let count_sql = self.count_sql(table, &filter);
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

    /// `SELECT COUNT(*)` of the rows [`ListSql::fetch`] pages through. With a [`ListSql::tenant_scope`] it is the
    /// sum of two disjoint counts (rows the tenant owns, rows it does not own that the others do), each with the
    /// other clauses, so that neither probes the owners table for every row of the tenant.
    fn count_sql(&self, table: &str, filter: &str) -> String {
        let Some(scope) = &self.scope else {
            return match &self.totals {
                Some(counts) if self.clauses.is_empty() => {
                    format!("SELECT CAST(COALESCE(SUM(total), 0) AS BIGINT) FROM {counts}")
                }
                _ => format!("SELECT COUNT(*) FROM {table}{filter}"),
            };
        };
        let rest = || {
            self.clauses
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != scope.clause)
                .map(|(_, c)| c.as_str())
        };
        let counters = scope.counts.as_ref().filter(|_| rest().next().is_none());
        let t = &scope.tenant;
        let owned = match counters {
            Some((owned, _)) => format!("COALESCE((SELECT owned FROM {owned} WHERE tenant = {t}), 0)"),
            None => format!(
                "(SELECT COUNT(*) FROM {table}{})",
                where_clause(std::iter::once(scope.tenant_owned.as_str()).chain(rest()))
            ),
        };
        let Some(others) = &scope.others else {
            return format!("SELECT {owned}");
        };
        let others = match (counters, scope.others_binds.as_slice()) {
            (Some((_, private)), [other]) => {
                format!("COALESCE((SELECT n FROM {private} WHERE owner_id = {other} AND tenant = {t}), 0)")
            }
            _ => format!(
                "(SELECT COUNT(*) FROM {table}{})",
                where_clause(std::iter::once(others.as_str()).chain(rest()))
            ),
        };
        format!("SELECT {owned} + {others}")
    }
}

/// ` WHERE a AND b …`, or nothing without clauses.
fn where_clause<'a>(clauses: impl Iterator<Item = &'a str>) -> String {
    let clauses: Vec<&str> = clauses.collect();
    if clauses.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", clauses.join(" AND "))
    }
}
