//! Terraform's standard functions, as Terraform defines them.
//!
//! Each function is a row of one static table: its parameters, how it treats
//! unknown, null and sensitive arguments, and the Rust function that does the
//! work. `call` applies the rules every function shares (arity, unknowns,
//! nulls, sensitive marks) before the row's implementation sees the arguments,
//! so implementations only handle known, unmarked values.
//!
//! Invariant: functions are pure. The only I/O is `file`, `fileexists` and
//! `templatefile`, which read relative to the calling module's directory given
//! in `FuncContext`.

mod collection;
mod conversion;
mod crypto;
mod encoding;
mod filesystem;
mod format;
mod network;
mod numeric;
mod string;
mod yaml;

#[cfg(test)]
mod test_support;

use std::path::Path;

use super::types::{self, Type};
use super::value::{Number, Value};

/// What a function may know about its caller.
pub struct FuncContext<'a> {
    /// The directory of the module whose expression calls the function (`path.module`).
    pub base_dir: &'a Path,
    /// Renders a template source with variables; supplied by the evaluator for `templatefile`.
    pub render_template: &'a dyn Fn(&str, &Path, Value) -> Result<Value, String>,
}

/// Why a function call failed.
///
/// The message is Terraform's diagnostic detail: `Invalid value for "str"
/// parameter: ...` when one argument is to blame (Terraform's summary is then
/// "Invalid function argument"), `Call to function "x" failed: ...` otherwise
/// ("Error in function call").
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FuncError {
    #[error("there is no function named `{0}`")]
    UnknownFunction(String),
    #[error("{0}")]
    Arity(String),
    /// A bad argument; `arg` is its zero-based position when one argument is to blame.
    #[error("{message}")]
    Invalid { arg: Option<usize>, message: String },
}

/// Calls the named function.
pub fn call(name: &str, args: Vec<Value>, ctx: &FuncContext<'_>) -> Result<Value, FuncError> {
    let Some(def) = FUNCTIONS.iter().find(|def| def.name == name) else {
        return Err(FuncError::UnknownFunction(name.to_string()));
    };
    check_arity(def, args.len())?;
    for (i, arg) in args.iter().enumerate() {
        let param = def.param(i);
        if arg.is_null() && !param.allow_null {
            return Err(invalid_arg(def, i, "argument must not be null."));
        }
    }
    if def.unknowns == Unknowns::Propagate && args.iter().any(Value::contains_unknown) {
        return Ok(Value::Unknown);
    }
    let unmark: fn(Value) -> (Value, bool) = match def.marks {
        Marks::Keep => |arg| (arg, false),
        Marks::Shallow => Value::unmark,
        Marks::Strip => Value::unmark_deep,
    };
    let mut marked = false;
    let args = args
        .into_iter()
        .map(|arg| {
            let (arg, arg_marked) = unmark(arg);
            marked |= arg_marked;
            arg
        })
        .collect();
    match (def.implementation)(args, ctx) {
        Ok(result) if marked => Ok(result.sensitive()),
        Ok(result) => Ok(result),
        Err(Fail {
            arg: Some(i),
            message,
        }) => Err(invalid_arg(def, i, &message)),
        Err(Fail { arg: None, message }) => Err(FuncError::Invalid {
            arg: None,
            message: format!("Call to function {:?} failed: {message}", def.name),
        }),
    }
}

/// The names of all functions, for "did you mean" suggestions.
pub fn names() -> &'static [&'static str] {
    static NAMES: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
    NAMES.get_or_init(|| {
        let mut names: Vec<&'static str> = FUNCTIONS.iter().map(|def| def.name).collect();
        // The evaluator implements these two: they need unevaluated arguments.
        names.extend(["can", "try"]);
        names.sort_unstable();
        names
    })
}

fn check_arity(def: &FuncDef, n_args: usize) -> Result<(), FuncError> {
    let n_params = def.params.len();
    if n_args < n_params {
        let qualifier = if def.variadic.is_some() {
            " at least"
        } else {
            ""
        };
        return Err(FuncError::Arity(format!(
            "Function {:?} expects{qualifier} {n_params} argument(s). Missing value for {:?}.",
            def.name, def.params[n_args].name
        )));
    }
    if n_args > n_params && def.variadic.is_none() {
        return Err(FuncError::Arity(if n_params == 0 {
            format!("Function {:?} expects no arguments.", def.name)
        } else {
            format!(
                "Function {:?} expects only {n_params} argument(s).",
                def.name
            )
        }));
    }
    Ok(())
}

fn invalid_arg(def: &FuncDef, i: usize, message: &str) -> FuncError {
    FuncError::Invalid {
        arg: Some(i),
        message: format!(
            "Invalid value for {:?} parameter: {message}",
            def.param(i).name
        ),
    }
}

/// A failure inside an implementation, before `call` names the function or parameter.
#[derive(Debug)]
pub(crate) struct Fail {
    arg: Option<usize>,
    message: String,
}

impl Fail {
    /// Blames the argument at position `arg`.
    fn arg(arg: usize, message: impl Into<String>) -> Fail {
        Fail {
            arg: Some(arg),
            message: message.into(),
        }
    }

    /// Blames the call as a whole.
    fn call(message: impl Into<String>) -> Fail {
        Fail {
            arg: None,
            message: message.into(),
        }
    }
}

type Implementation = fn(Vec<Value>, &FuncContext<'_>) -> Result<Value, Fail>;

/// How a function treats arguments that are, or contain, unknown values.
#[derive(Clone, Copy, PartialEq)]
enum Unknowns {
    /// The result is unknown.
    Propagate,
    /// The implementation handles them (`length`, `coalesce`, conversions).
    Handle,
}

/// How a function treats sensitive marks on its arguments.
#[derive(Clone, Copy, PartialEq)]
enum Marks {
    /// Marks are removed before the call and the result is marked if any was found.
    Strip,
    /// Only the arguments' own marks are removed (and put on the result);
    /// marks on elements stay where they are (`concat`, `element`, `merge`).
    Shallow,
    /// The implementation sees the marks (`sensitive`, `nonsensitive`, conversions).
    Keep,
}

#[derive(Clone, Copy)]
struct Param {
    name: &'static str,
    allow_null: bool,
}

const fn p(name: &'static str) -> Param {
    Param {
        name,
        allow_null: false,
    }
}

/// A parameter that accepts null.
const fn nullable(name: &'static str) -> Param {
    Param {
        name,
        allow_null: true,
    }
}

struct FuncDef {
    name: &'static str,
    params: &'static [Param],
    variadic: Option<Param>,
    unknowns: Unknowns,
    marks: Marks,
    implementation: Implementation,
}

impl FuncDef {
    fn param(&self, i: usize) -> Param {
        self.params
            .get(i)
            .copied()
            .or(self.variadic)
            .expect("check_arity rejected extra arguments of fixed-arity functions")
    }
}

/// A function with fixed parameters that propagates unknowns and strips marks.
const fn f(
    name: &'static str,
    params: &'static [Param],
    implementation: Implementation,
) -> FuncDef {
    FuncDef {
        name,
        params,
        variadic: None,
        unknowns: Unknowns::Propagate,
        marks: Marks::Strip,
        implementation,
    }
}

/// A function whose last parameter repeats.
const fn variadic(
    name: &'static str,
    params: &'static [Param],
    rest: Param,
    implementation: Implementation,
) -> FuncDef {
    FuncDef {
        name,
        params,
        variadic: Some(rest),
        unknowns: Unknowns::Propagate,
        marks: Marks::Strip,
        implementation,
    }
}

impl FuncDef {
    const fn handling_unknowns(mut self) -> FuncDef {
        self.unknowns = Unknowns::Handle;
        self
    }

    const fn keeping_marks(mut self) -> FuncDef {
        self.marks = Marks::Keep;
        self
    }

    const fn keeping_element_marks(mut self) -> FuncDef {
        self.marks = Marks::Shallow;
        self
    }
}

static FUNCTIONS: &[FuncDef] = &[
    // Numeric.
    f("abs", &[p("num")], numeric::abs),
    f("ceil", &[p("num")], numeric::ceil),
    f("floor", &[p("num")], numeric::floor),
    f("log", &[p("num"), p("base")], numeric::log),
    variadic("max", &[], p("numbers"), numeric::max),
    variadic("min", &[], p("numbers"), numeric::min),
    f("parseint", &[p("number"), p("base")], numeric::parseint),
    f("pow", &[p("num"), p("power")], numeric::pow),
    f("signum", &[p("num")], numeric::signum),
    f("sum", &[p("list")], numeric::sum),
    // Strings.
    f("chomp", &[p("str")], string::chomp),
    f("endswith", &[p("str"), p("suffix")], string::endswith),
    variadic("format", &[p("format")], nullable("args"), format::format),
    variadic(
        "formatlist",
        &[p("format")],
        nullable("args"),
        format::formatlist,
    ),
    f("indent", &[p("spaces"), p("str")], string::indent),
    variadic("join", &[p("separator")], p("lists"), string::join),
    f("lower", &[p("str")], string::lower),
    f("regex", &[p("pattern"), p("string")], string::regex),
    f("regexall", &[p("pattern"), p("string")], string::regexall),
    f(
        "replace",
        &[p("str"), p("substr"), p("replace")],
        string::replace,
    ),
    f("split", &[p("separator"), p("str")], string::split),
    f("startswith", &[p("str"), p("prefix")], string::startswith),
    f("strrev", &[p("str")], string::strrev),
    f(
        "substr",
        &[p("str"), p("offset"), p("length")],
        string::substr,
    ),
    f("title", &[p("str")], string::title),
    f("trim", &[p("str"), p("cutset")], string::trim),
    f("trimprefix", &[p("str"), p("prefix")], string::trimprefix),
    f("trimspace", &[p("str")], string::trimspace),
    f("trimsuffix", &[p("str"), p("suffix")], string::trimsuffix),
    f("upper", &[p("str")], string::upper),
    // Collections.
    f("alltrue", &[p("list")], collection::alltrue),
    f("anytrue", &[p("list")], collection::anytrue),
    f("chunklist", &[p("list"), p("size")], collection::chunklist),
    variadic("coalesce", &[], nullable("vals"), collection::coalesce).handling_unknowns(),
    variadic("coalescelist", &[], p("vals"), collection::coalescelist),
    f("compact", &[p("list")], collection::compact),
    variadic("concat", &[], p("seqs"), collection::concat).keeping_element_marks(),
    f("contains", &[p("list"), p("value")], collection::contains),
    f("distinct", &[p("list")], collection::distinct),
    f("element", &[p("list"), p("index")], collection::element).keeping_element_marks(),
    f("flatten", &[p("list")], collection::flatten).keeping_element_marks(),
    f("index", &[p("list"), p("value")], collection::index),
    f("keys", &[p("inputMap")], collection::keys).keeping_element_marks(),
    f("length", &[p("value")], collection::length)
        .handling_unknowns()
        .keeping_element_marks(),
    variadic(
        "lookup",
        &[p("inputMap"), p("key")],
        nullable("default"),
        collection::lookup,
    )
    .keeping_element_marks(),
    f(
        "matchkeys",
        &[p("values"), p("keys"), p("searchset")],
        collection::matchkeys,
    ),
    variadic("merge", &[], nullable("maps"), collection::merge).keeping_element_marks(),
    f("one", &[p("list")], collection::one),
    variadic("range", &[], p("params"), collection::range),
    f("reverse", &[p("list")], collection::reverse).keeping_element_marks(),
    variadic(
        "setintersection",
        &[p("first_set")],
        p("other_sets"),
        collection::setintersection,
    ),
    variadic("setproduct", &[], p("sets"), collection::setproduct),
    variadic("setsubtract", &[p("a")], p("b"), collection::setsubtract),
    variadic(
        "setunion",
        &[p("first_set")],
        p("other_sets"),
        collection::setunion,
    ),
    f(
        "slice",
        &[p("list"), p("start_index"), p("end_index")],
        collection::slice,
    )
    .keeping_element_marks(),
    f("sort", &[p("list")], collection::sort),
    f("transpose", &[p("values")], collection::transpose),
    f("values", &[p("mapping")], collection::values).keeping_element_marks(),
    f("zipmap", &[p("keys"), p("values")], collection::zipmap).keeping_element_marks(),
    // Type conversions and marks.
    f(
        "nonsensitive",
        &[nullable("value")],
        conversion::nonsensitive,
    )
    .handling_unknowns()
    .keeping_marks(),
    f("sensitive", &[nullable("value")], conversion::sensitive)
        .handling_unknowns()
        .keeping_marks(),
    f("tobool", &[nullable("v")], conversion::tobool)
        .handling_unknowns()
        .keeping_marks(),
    f("tolist", &[nullable("v")], conversion::tolist)
        .handling_unknowns()
        .keeping_marks(),
    f("tomap", &[nullable("v")], conversion::tomap)
        .handling_unknowns()
        .keeping_marks(),
    f("tonumber", &[nullable("v")], conversion::tonumber)
        .handling_unknowns()
        .keeping_marks(),
    f("toset", &[nullable("v")], conversion::toset)
        .handling_unknowns()
        .keeping_marks(),
    f("tostring", &[nullable("v")], conversion::tostring)
        .handling_unknowns()
        .keeping_marks(),
    // Encodings.
    f("base64decode", &[p("str")], encoding::base64decode),
    f("base64encode", &[p("str")], encoding::base64encode),
    f("jsondecode", &[p("str")], encoding::jsondecode),
    f("jsonencode", &[nullable("val")], encoding::jsonencode),
    f("yamlencode", &[nullable("value")], yaml::yamlencode),
    // Hashes and UUIDs.
    f("md5", &[p("str")], crypto::md5),
    f("sha1", &[p("str")], crypto::sha1),
    f("sha256", &[p("str")], crypto::sha256),
    f("sha512", &[p("str")], crypto::sha512),
    f("uuidv5", &[p("namespace"), p("name")], crypto::uuidv5),
    // Networks.
    f("cidrhost", &[p("prefix"), p("hostnum")], network::cidrhost),
    f("cidrnetmask", &[p("prefix")], network::cidrnetmask),
    f(
        "cidrsubnet",
        &[p("prefix"), p("newbits"), p("netnum")],
        network::cidrsubnet,
    ),
    // Files.
    f("file", &[p("path")], filesystem::file),
    f("fileexists", &[p("path")], filesystem::fileexists),
    f(
        "templatefile",
        &[p("path"), p("vars")],
        filesystem::templatefile,
    ),
];

// Argument readers shared by the implementations. Each converts the argument the
// way Terraform converts a value to the parameter's type, and blames it otherwise.

fn convert_arg(args: &[Value], i: usize, ty: &Type) -> Result<Value, Fail> {
    let arg = args.get(i).cloned().unwrap_or(Value::Null);
    types::convert(arg, ty).map_err(|_| Fail::arg(i, format!("{} required.", describe_type(ty))))
}

fn describe_type(ty: &Type) -> String {
    match ty {
        Type::List(elem) if **elem == Type::Any => "list of any single type".to_string(),
        Type::Set(elem) if **elem == Type::Any => "set of any single type".to_string(),
        Type::Map(elem) if **elem == Type::Any => "map of any single type".to_string(),
        Type::List(elem) => format!("list of {elem}"),
        Type::Set(elem) => format!("set of {elem}"),
        Type::Map(elem) => format!("map of {elem}"),
        other => other.to_string(),
    }
}

fn string_arg(args: &[Value], i: usize) -> Result<String, Fail> {
    match convert_arg(args, i, &Type::String)? {
        Value::String(s) => Ok(s),
        _ => Err(Fail::arg(i, "string required.")),
    }
}

fn number_arg(args: &[Value], i: usize) -> Result<Number, Fail> {
    match convert_arg(args, i, &Type::Number)? {
        Value::Number(n) => Ok(n),
        _ => Err(Fail::arg(i, "number required.")),
    }
}

/// A number argument that must be a whole number.
fn int_arg(args: &[Value], i: usize) -> Result<i64, Fail> {
    number_arg(args, i)?
        .as_i64()
        .ok_or_else(|| Fail::arg(i, "value must be a whole number."))
}

/// The elements of a tuple, list or set argument, unconverted.
fn sequence_arg(args: &[Value], i: usize) -> Result<Vec<Value>, Fail> {
    args.get(i)
        .and_then(Value::as_sequence)
        .map(<[Value]>::to_vec)
        .ok_or_else(|| Fail::arg(i, "list of any single type required."))
}

/// A list argument whose elements all convert to `elem`.
fn list_arg(args: &[Value], i: usize, elem: Type) -> Result<Vec<Value>, Fail> {
    let ty = Type::List(Box::new(elem));
    match convert_arg(args, i, &ty)? {
        Value::List(items) => Ok(items),
        _ => Err(Fail::arg(i, format!("{} required.", describe_type(&ty)))),
    }
}

fn string_list_arg(args: &[Value], i: usize) -> Result<Vec<String>, Fail> {
    list_arg(args, i, Type::String)?
        .into_iter()
        .map(|item| match item {
            Value::String(s) => Ok(s),
            _ => Err(Fail::arg(i, "element must not be null.")),
        })
        .collect()
}

/// Gives a sequence's elements one type, as a Terraform list requires.
fn unify_list(i: usize, items: Vec<Value>) -> Result<Vec<Value>, Fail> {
    match types::convert(Value::Tuple(items), &Type::List(Box::new(Type::Any))) {
        Ok(Value::List(items)) if is_homogeneous(&items) => Ok(items),
        _ => Err(Fail::arg(i, "all elements must have the same type.")),
    }
}

/// Returns true when the values could be elements of one Terraform collection.
fn is_homogeneous(items: &[Value]) -> bool {
    let mut kinds = items
        .iter()
        .filter(|v| !matches!(v.unmarked(), Value::Null | Value::Unknown))
        .map(|v| kind(v.unmarked()));
    match kinds.next() {
        None => true,
        Some(first) => kinds.all(|k| k == first),
    }
}

/// A coarse type key: primitives by type, collections by kind and element kinds.
fn kind(value: &Value) -> String {
    match value {
        Value::Tuple(items) | Value::List(items) | Value::Set(items) => {
            let name = if matches!(value, Value::Set(_)) {
                "set"
            } else {
                "seq"
            };
            let inner: Vec<String> = items.iter().map(|v| kind(v.unmarked())).collect();
            if matches!(value, Value::Tuple(_)) {
                format!("tuple[{}]", inner.join(","))
            } else {
                let mut inner = inner;
                inner.dedup();
                format!("{name}[{}]", inner.join(","))
            }
        }
        Value::Object(map) => {
            let inner: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{k}:{}", kind(v.unmarked())))
                .collect();
            format!("object{{{}}}", inner.join(","))
        }
        Value::Map(map) => {
            let mut inner: Vec<String> = map.values().map(|v| kind(v.unmarked())).collect();
            inner.dedup();
            format!("map{{{}}}", inner.join(","))
        }
        other => other.type_name().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::*;
    use super::*;

    fn check(name: &str, args: Vec<Value>, expected: Result<Value, &str>) {
        assert_eq!(call_str(name, args), expected.map_err(str::to_string));
    }

    #[test]
    fn unknown_function() {
        check("nope", vec![], Err("there is no function named `nope`"));
    }

    #[test]
    fn too_many_arguments() {
        check(
            "upper",
            vec![Value::string("a"), Value::string("b")],
            Err("Function \"upper\" expects only 1 argument(s)."),
        );
    }

    #[test]
    fn missing_argument() {
        check(
            "upper",
            vec![],
            Err("Function \"upper\" expects 1 argument(s). Missing value for \"str\"."),
        );
    }

    #[test]
    fn missing_argument_of_variadic() {
        check(
            "join",
            vec![],
            Err(
                "Function \"join\" expects at least 1 argument(s). Missing value for \"separator\".",
            ),
        );
    }

    #[test]
    fn null_argument() {
        check(
            "upper",
            vec![Value::Null],
            Err("Invalid value for \"str\" parameter: argument must not be null."),
        );
    }

    #[test]
    fn unknown_argument_gives_unknown() {
        check("upper", vec![Value::Unknown], Ok(Value::Unknown));
    }

    #[test]
    fn nested_unknown_gives_unknown() {
        check(
            "join",
            vec![Value::string(","), Value::Tuple(vec![Value::Unknown])],
            Ok(Value::Unknown),
        );
    }

    #[test]
    fn sensitive_argument_marks_result() {
        check(
            "upper",
            vec![Value::string("a").sensitive()],
            Ok(Value::string("A").sensitive()),
        );
    }

    #[test]
    fn nested_sensitive_marks_result() {
        check(
            "join",
            vec![
                Value::string(","),
                Value::Tuple(vec![Value::string("a").sensitive()]),
            ],
            Ok(Value::string("a").sensitive()),
        );
    }

    #[test]
    fn element_marks_survive_concat() {
        check(
            "concat",
            vec![
                Value::Tuple(vec![Value::int(1).sensitive()]),
                Value::Tuple(vec![Value::int(2)]),
            ],
            Ok(Value::Tuple(vec![Value::int(1).sensitive(), Value::int(2)])),
        );
    }

    #[test]
    fn argument_mark_of_concat_marks_result() {
        check(
            "concat",
            vec![Value::Tuple(vec![Value::int(1)]).sensitive()],
            Ok(Value::Tuple(vec![Value::int(1)]).sensitive()),
        );
    }

    #[test]
    fn call_failure_names_function() {
        check(
            "element",
            vec![Value::Tuple(vec![]), Value::int(0)],
            Err(
                "Call to function \"element\" failed: cannot use element function with an empty list",
            ),
        );
    }

    #[test]
    fn names_include_try_and_can() {
        assert!(names().contains(&"try"));
        assert!(names().contains(&"can"));
        assert!(names().contains(&"upper"));
    }
}
