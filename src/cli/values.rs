//! clap value parsers for numeric flags: a bad value is refused naming the flag, the value as
//! typed and what is allowed, as the duration flags are (`units`), never with clap's own wording.

/// A whole-number flag's type, for `count`.
pub trait Whole: TryFrom<u64> + Clone + Send + Sync + 'static {
    const MAX: u64;
}
impl Whole for u32 {
    const MAX: u64 = u32::MAX as u64;
}
impl Whole for usize {
    const MAX: u64 = usize::MAX as u64;
}

/// The parser of a whole-number flag: `--connections -5` or `--threads x` is refused as the
/// duration flags refuse `--timeout -1s` (`units`), naming the flag, the value as typed and what
/// is allowed, instead of clap's "invalid digit found in string".
#[derive(Clone)]
pub struct Count<T> {
    range: crate::units::CountRange,
    of: std::marker::PhantomData<T>,
}

pub(super) fn count<T: Whole>(what: &'static str, min: u64, max: Option<u64>) -> Count<T> {
    Count { range: crate::units::CountRange { what, min, max }, of: std::marker::PhantomData }
}

impl<T: Whole> clap::builder::TypedValueParser for Count<T> {
    type Value = T;

    fn parse_ref(&self, cmd: &clap::Command, arg: Option<&clap::Arg>, value: &std::ffi::OsStr) -> Result<T, clap::Error> {
        let flag = flag_name(arg);
        let refuse = |m: String| clap::Error::raw(clap::error::ErrorKind::ValueValidation, format!("{flag}: {m}\n")).with_cmd(cmd);
        let n = crate::units::parse_count(&value.to_string_lossy(), self.range, T::MAX).map_err(|e| refuse(e.to_string()))?;
        T::try_from(n).map_err(|_| refuse(format!("`{n}` is too large: at most {}", T::MAX)))
    }
}

/// A flag as the user wrote it in a value parser's message: `--connections`, `-n`.
fn flag_name(arg: Option<&clap::Arg>) -> String {
    arg.map_or(String::new(), |a| match (a.get_long(), a.get_short()) {
        (Some(l), _) => format!("--{l}"),
        (None, Some(c)) => format!("-{c}"),
        (None, None) => a.get_id().to_string(),
    })
}

/// The parser of a decimal flag (`--rate`, `--factor`, …): `--rate abc` or `--rate 1e400` is
/// refused naming the flag and the value as typed, as whole-number flags are (`Count`), instead
/// of clap's "invalid float literal" or a later "inf is not allowed" the user never typed. What
/// range each flag allows is checked where the scenario's own values are, with its words.
#[derive(Clone)]
pub struct Decimal;

impl clap::builder::TypedValueParser for Decimal {
    type Value = f64;

    fn parse_ref(&self, cmd: &clap::Command, arg: Option<&clap::Arg>, value: &std::ffi::OsStr) -> Result<f64, clap::Error> {
        let flag = flag_name(arg);
        let typed = value.to_string_lossy();
        let refuse = |why: &str| clap::Error::raw(clap::error::ErrorKind::ValueValidation, format!("{flag}: `{typed}` {why}\n")).with_cmd(cmd);
        match typed.trim().parse::<f64>() {
            Ok(x) if x.is_finite() => Ok(x),
            Ok(_) => Err(refuse("is not a finite number: give a decimal such as 250 or 1.5")),
            Err(_) => Err(refuse("is not a number: give a decimal such as 250 or 1.5")),
        }
    }
}

/// `--max-redirs`: a whole number of redirects, or `-1`, curl's "no limit" (`invoke` still stops
/// at a hard bound, `invoke_redirect::UNLIMITED_REDIRS`, so a redirect loop ends).
#[derive(Clone)]
pub struct Redirs;

impl clap::builder::TypedValueParser for Redirs {
    type Value = i64;

    fn parse_ref(&self, cmd: &clap::Command, arg: Option<&clap::Arg>, value: &std::ffi::OsStr) -> Result<i64, clap::Error> {
        let v = value.to_string_lossy();
        if v.trim() == "-1" {
            return Ok(-1);
        }
        let range = crate::units::CountRange { what: "redirects to follow", min: 0, max: None };
        crate::units::parse_count(&v, range, u64::from(u32::MAX)).map(|n| n as i64).map_err(|e| {
            clap::Error::raw(clap::error::ErrorKind::ValueValidation, format!("{}: {e}; or -1 for no limit, as curl\n", flag_name(arg))).with_cmd(cmd)
        })
    }
}
