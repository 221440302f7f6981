//! The parsed form of an SPL pipeline.

/// A whole search: commands in the order data flows through them.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Pipeline {
    pub(crate) commands: Vec<Command>,
    /// True when the text began with `|`, i.e. the first command generates its own rows.
    pub(crate) leading_pipe: bool,
}

/// One command of the pipeline.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Command {
    /// `search <terms>` (also the implicit first command).
    Search(SearchExpr),
    /// `head N`: the first N rows.
    Head(u64),
    /// `tail N`: the last N rows, last first.
    Tail(u64),
    /// `fields [+|-] patterns`.
    Fields { remove: bool, patterns: Vec<String> },
    /// `table patterns`.
    Table(Vec<String>),
    /// `rename a AS b, ...`.
    Rename(Vec<(String, String)>),
    /// `sort [N] keys`; `limit` of `None` means unlimited (`sort 0`).
    Sort {
        limit: Option<usize>,
        keys: Vec<SortKey>,
    },
    /// `dedup [N] fields`.
    Dedup {
        keep: u64,
        fields: Vec<String>,
        keep_empty: bool,
    },
    /// `where <expr>`.
    Where(Expr),
    /// `eval name=<expr>, ...`.
    Eval(Vec<(String, Expr)>),
    /// `stats aggregations [by fields]`.
    Stats {
        aggregations: Vec<Aggregation>,
        by: Vec<String>,
    },
    /// `top` or `rare`.
    Top(TopOptions),
    /// `| makeresults count=N`.
    MakeResults { count: u64 },
    /// `| metadata type=... index=...`.
    Metadata {
        kind: MetadataKind,
        indexes: Vec<String>,
    },
    /// `| tstats aggregations where <filter> by fields`.
    Tstats {
        aggregations: Vec<Aggregation>,
        filter: SearchExpr,
        by: Vec<String>,
    },
    /// `| eventcount [summarize=bool] [index=...]`.
    EventCount {
        indexes: Vec<String>,
        summarize: bool,
    },
    /// `fillnull [value=X] [fields]`; no fields means every field of the result set.
    FillNull { value: String, fields: Vec<String> },
    /// `bin [span=X] field [AS alias]` (also spelled `bucket`).
    Bin {
        field: String,
        span: Option<f64>,
        alias: Option<String>,
    },
    /// `timechart [span=X] [limit=N] aggregations [by field]`.
    Timechart {
        span: Option<f64>,
        limit: usize,
        aggregations: Vec<Aggregation>,
        by: Option<String>,
    },
    /// `chart aggregations [over row_field] [by [row_field] series_field]`.
    Chart {
        limit: usize,
        aggregations: Vec<Aggregation>,
        row_field: Option<String>,
        series_field: Option<String>,
    },
    /// `eventstats aggregations [by fields]`: every row keeps its fields and gains its group's.
    EventStats {
        aggregations: Vec<Aggregation>,
        by: Vec<String>,
    },
    /// `rex [field=f] [max_match=N] "regex"` or `rex mode=sed "s/a/b/g"`.
    Rex {
        field: String,
        extraction: RexExtraction,
    },
    /// `| inputlookup [append=bool] [start=N] [max=N] <file or definition> [WHERE <search>]`.
    InputLookup(InputLookup),
}

/// What `inputlookup` reads and which of its rows it keeps.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct InputLookup {
    /// A lookup table file (`http_status.csv`) or a lookup definition (`http_status`).
    pub(crate) table: String,
    /// `append=true`: add the rows to the results so far instead of starting the search.
    pub(crate) append: bool,
    /// `start`: rows of the table skipped first.
    pub(crate) start: usize,
    /// `max`: most rows read from the table.
    pub(crate) max: Option<usize>,
    /// `WHERE`: only the rows read that match this search expression.
    pub(crate) filter: Option<SearchExpr>,
}

/// What `rex` does with its regular expression.
#[derive(Debug, Clone)]
pub(crate) enum RexExtraction {
    /// Named groups become fields; up to `max_match` matches (0 = all) become multivalues.
    Fields {
        regex: regex::Regex,
        max_match: usize,
    },
    /// `s/regex/replacement/[g]` rewrites the field.
    Sed {
        regex: regex::Regex,
        replacement: String,
        global: bool,
    },
}

impl PartialEq for RexExtraction {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (
                RexExtraction::Fields {
                    regex: a,
                    max_match: x,
                },
                RexExtraction::Fields {
                    regex: b,
                    max_match: y,
                },
            ) => a.as_str() == b.as_str() && x == y,
            (
                RexExtraction::Sed {
                    regex: a,
                    replacement: r,
                    global: g,
                },
                RexExtraction::Sed {
                    regex: b,
                    replacement: s,
                    global: h,
                },
            ) => a.as_str() == b.as_str() && r == s && g == h,
            _ => false,
        }
    }
}

impl Command {
    /// The command's name as written in SPL, for error messages.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Command::Search(_) => "search",
            Command::Head(_) => "head",
            Command::Tail(_) => "tail",
            Command::Fields { .. } => "fields",
            Command::Table(_) => "table",
            Command::Rename(_) => "rename",
            Command::Sort { .. } => "sort",
            Command::Dedup { .. } => "dedup",
            Command::Where(_) => "where",
            Command::Eval(_) => "eval",
            Command::Stats { .. } => "stats",
            Command::Top(options) if options.rare => "rare",
            Command::Top(_) => "top",
            Command::MakeResults { .. } => "makeresults",
            Command::Metadata { .. } => "metadata",
            Command::Tstats { .. } => "tstats",
            Command::EventCount { .. } => "eventcount",
            Command::FillNull { .. } => "fillnull",
            Command::Bin { .. } => "bin",
            Command::Timechart { .. } => "timechart",
            Command::Rex { .. } => "rex",
            Command::Chart { .. } => "chart",
            Command::EventStats { .. } => "eventstats",
            Command::InputLookup(_) => "inputlookup",
        }
    }

    /// Whether the command turns events into a statistics table (Splunk's "transforming").
    pub(crate) fn is_transforming(&self) -> bool {
        matches!(
            self,
            Command::Stats { .. }
                | Command::Top(_)
                | Command::Metadata { .. }
                | Command::Tstats { .. }
                | Command::Table(_)
                | Command::Timechart { .. }
                | Command::Chart { .. }
                | Command::EventCount { .. }
                | Command::InputLookup(_)
        )
    }
}

/// A search-language boolean expression.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum SearchExpr {
    /// Every conjunct must match; the empty conjunction matches everything.
    And(Vec<SearchExpr>),
    /// Any disjunct must match; the empty disjunction matches nothing.
    Or(Vec<SearchExpr>),
    /// Negation.
    Not(Box<SearchExpr>),
    /// A bare term matched against `_raw` (may contain `*`).
    Term(String),
    /// A quoted phrase matched against `_raw`.
    Phrase(String),
    /// `field op value`.
    Compare {
        field: String,
        op: CompareOp,
        value: String,
    },
    /// `[search ...]`, replaced by its results before the search runs.
    Subsearch(String),
}

impl SearchExpr {
    /// The expression that matches every row.
    pub(crate) fn everything() -> Self {
        SearchExpr::And(Vec::new())
    }
}

/// A comparison operator of the search language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CompareOp {
    Equal,
    NotEqual,
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
}

impl CompareOp {
    pub(crate) fn from_symbol(symbol: &str) -> Option<Self> {
        Some(match symbol {
            "=" | "==" => CompareOp::Equal,
            "!=" => CompareOp::NotEqual,
            "<" => CompareOp::Less,
            "<=" => CompareOp::LessOrEqual,
            ">" => CompareOp::Greater,
            ">=" => CompareOp::GreaterOrEqual,
            _ => return None,
        })
    }
}

/// An `eval`/`where` expression.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    /// A string literal.
    Text(String),
    /// A numeric literal.
    Number(f64),
    /// A field reference.
    Field(String),
    /// `-x`.
    Negate(Box<Expr>),
    /// `NOT x`.
    Not(Box<Expr>),
    /// A binary operation.
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
    /// A function call, name lowercased.
    Call(String, Vec<Expr>),
}

/// Binary operators of expressions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinaryOp {
    Add,
    Subtract,
    Multiply,
    Divide,
    Modulo,
    Concat,
    Compare(CompareOp),
    Like,
    And,
    Or,
    Xor,
}

/// How `sort` compares one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SortMode {
    /// Numbers numerically, before strings; strings lexicographically.
    Auto,
    /// `num(f)`.
    Numeric,
    /// `str(f)`.
    Lexicographic,
}

/// One key of `sort`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SortKey {
    pub(crate) field: String,
    pub(crate) descending: bool,
    pub(crate) mode: SortMode,
}

/// A statistical function of `stats`/`tstats`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AggregateFunction {
    Count,
    DistinctCount,
    Sum,
    Average,
    Min,
    Max,
    Range,
    Values,
    List,
    First,
    Last,
}

impl AggregateFunction {
    pub(crate) fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "count" | "c" => AggregateFunction::Count,
            "dc" | "distinct_count" => AggregateFunction::DistinctCount,
            "sum" => AggregateFunction::Sum,
            "avg" | "mean" => AggregateFunction::Average,
            "min" => AggregateFunction::Min,
            "max" => AggregateFunction::Max,
            "range" => AggregateFunction::Range,
            "values" => AggregateFunction::Values,
            "list" => AggregateFunction::List,
            // Events arrive newest first, so the latest is the first seen.
            "first" | "latest" => AggregateFunction::First,
            "last" | "earliest" => AggregateFunction::Last,
            _ => return None,
        })
    }
}

/// `function(field) AS name`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Aggregation {
    pub(crate) function: AggregateFunction,
    /// `None` only for a bare `count`.
    pub(crate) field: Option<String>,
    /// The output field name.
    pub(crate) name: String,
}

/// Options of `top`/`rare`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TopOptions {
    /// `rare` sorts ascending.
    pub(crate) rare: bool,
    /// Rows per group; 0 means all.
    pub(crate) limit: usize,
    pub(crate) fields: Vec<String>,
    pub(crate) by: Vec<String>,
    pub(crate) count_field: String,
    pub(crate) percent_field: String,
    pub(crate) show_count: bool,
    pub(crate) show_percent: bool,
}

/// `metadata type=...`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MetadataKind {
    Hosts,
    Sources,
    Sourcetypes,
}

impl MetadataKind {
    /// The `type` value and the field naming each row.
    pub(crate) fn names(self) -> (&'static str, &'static str) {
        match self {
            MetadataKind::Hosts => ("hosts", "host"),
            MetadataKind::Sources => ("sources", "source"),
            MetadataKind::Sourcetypes => ("sourcetypes", "sourcetype"),
        }
    }
}
