//! The `skyload run` flags (`--url`, `--rate`, `--duration`, ...): a whole one-request plan when no
//! file is given (as oha and vegeta do), or overrides on a file's plan. The rules are the ones a
//! person would guess from the flag names; docs/scenarios.md ("Command-line flags") states them:
//! --url replaces the target; --rate replaces all stages with one constant stage (lasting
//! --duration, else the scenario's total); --duration alone cuts or extends the schedule to that
//! length; --header/--method/--body apply to every request; --connections/--http2 set the pool.

use super::error::ScenarioError;
use super::plan::{Arrivals, Plan, Stage, StageShape, Target};
use super::requests::parse_method;
use super::resolve::{parse_target_url, sanitize_name};
use super::stages::set_total_duration;
use super::template;
use crate::units::HumanDuration;
use http::HeaderName;
use std::path::Path;
use std::time::Duration;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Overrides {
    pub url: Option<String>,
    pub rate: Option<f64>,
    pub duration: Option<Duration>,
    pub method: Option<String>,
    /// `Name: value`, repeatable.
    pub headers: Vec<String>,
    pub body: Option<String>,
    pub connections: Option<usize>,
    /// `--threads N` (wrk's `-t`): replaces `threads`.
    pub threads: Option<usize>,
    pub http2: bool,
    /// `--pacer sleep|precise` (replaces the scenario's `pacer`).
    pub pacer: Option<String>,
    /// `--timeout D` (curl's `--max-time`): replaces `target.timeout`.
    pub timeout: Option<Duration>,
    /// `--connect-timeout D` (curl's): replaces `target.connect_timeout`.
    pub connect_timeout: Option<Duration>,
    /// `--timeout` and `--connect-timeout` as typed, for messages in the user's terms (None: as
    /// `HumanDuration` shows the value).
    pub timeout_text: Option<String>,
    pub connect_timeout_text: Option<String>,
    /// `--check EXPR`, repeatable: whole-run checks added to the scenario's `[checks] run`.
    pub checks: Vec<String>,
}

impl Overrides {
    /// `skyload run --url URL --rate N --duration D` with no file: a one-request plan named after
    /// the host. The plan is built from a generated scenario text, so its `source_text` is an
    /// equivalent scenario file and the same checks apply as to a file.
    pub fn to_plan(&self) -> Result<Plan, ScenarioError> {
        let need = "is required when no scenario file is given";
        if self.url.is_none() && self.rate.is_none() && self.duration.is_none() {
            // A bare `skyload run`: not one missing flag but a missing choice.
            return Err(ScenarioError::flag(
                "skyload run",
                "give a scenario file (e.g. skyload run scenarios/quickstart.toml, the demo), or --url, --rate and --duration for a quick run",
            ));
        }
        let url = self.url.as_deref().ok_or_else(|| {
            ScenarioError::flag("--url", format!("{need} (e.g. --url http://127.0.0.1:8080/fn/hello)"))
        })?;
        let rate = self.rate.ok_or_else(|| {
            ScenarioError::flag("--rate", format!("{need} (requests per second, e.g. --rate 100)"))
        })?;
        let duration = self
            .duration
            .ok_or_else(|| ScenarioError::flag("--duration", format!("{need} (e.g. --duration 30s)")))?;
        let (base, path) = split_url(url)?;
        let target = parse_target_url(&base).map_err(|m| ScenarioError::flag("--url", m))?;
        check_rate(rate)?;
        check_duration(duration, &HumanDuration(duration).to_string())?;
        self.check_common(&[])?;
        if rate == 0.0 {
            return Err(ScenarioError::flag("--rate", "0 would send nothing: give requests per second > 0"));
        }

        if let Some(ct) = self.connect_timeout {
            self.check_connect_timeout(ct, self.timeout.unwrap_or(super::resolve::DEFAULT_TIMEOUT)).map_err(|m| ScenarioError::flag("--connect-timeout", m))?;
        }
        let q = |s: &str| toml::Value::String(s.to_string()).to_string();
        let mut t = format!("# Generated from: skyload run {}\n", self.describe().join(" "));
        t += &format!("name = {}\n", q(&sanitize_name(&target.host)));
        if let Some(p) = &self.pacer {
            t += &format!("pacer = {}\n", q(p));
        }
        if let Some(n) = self.threads {
            t += &format!("threads = {n}\n");
        }
        t += &format!("\n[target]\nurl = {}\n", q(&base));
        if let Some(d) = self.timeout {
            t += &format!("timeout = {}\n", q(&HumanDuration(d).to_string()));
        }
        if let Some(d) = self.connect_timeout {
            t += &format!("connect_timeout = {}\n", q(&HumanDuration(d).to_string()));
        }
        if self.connections.is_some() || self.http2 {
            t += "\n[connections]\n";
            if let Some(c) = self.connections {
                t += &format!("max = {c}\n");
            }
            if self.http2 {
                t += "http2 = true\n";
            }
        }
        t += &format!(
            "\n[[stages]]\nname = \"constant\"\nrate = {}\nduration = {}\n",
            toml::Value::Float(rate),
            q(&HumanDuration(duration).to_string())
        );
        t += &format!(
            "\n[[requests]]\nname = \"request\"\nmethod = {}\npath = {}\n",
            // A body without -X is a POST, as in curl and `skyload invoke` (a GET with a body is
            // rarely meant and some servers drop it).
            q(self.method.as_deref().unwrap_or(if self.body.is_some() { "POST" } else { "GET" })),
            q(&path)
        );
        if !self.headers.is_empty() {
            let hs: Vec<String> = self
                .headers
                .iter()
                .map(|h| split_header(h).map(|(n, v)| format!("{} = {}", q(n), q(v))))
                .collect::<Result<_, _>>()?;
            t += &format!("headers = {{ {} }}\n", hs.join(", "));
        }
        if let Some(b) = &self.body {
            t += &format!("body = {}\n", q(b));
        }
        if !self.checks.is_empty() {
            // In the generated file, so the saved scenario copy carries them (merge, a rerun).
            t += &format!("\n[checks]\nrun = [{}]\n", self.checks.iter().map(|c| q(c)).collect::<Vec<_>>().join(", "));
        }
        let mut plan = super::load_str(&t, Path::new("<flags>")).map_err(|e| match (e.located(), self.connect_timeout) {
            // The generated file's position means nothing to the user: name the flag.
            (Some(l), Some(_)) if l.field == "target.connect_timeout" => ScenarioError::flag("--connect-timeout", l.message.clone()),
            (Some(l), _) if l.field.starts_with("checks.run") => ScenarioError::flag("--check", l.message.clone()),
            _ => e,
        })?;
        plan.source_path = None;
        Ok(plan)
    }

    /// Applies the flags to a plan built from a file. The flags are appended to `source_text` as a
    /// comment so the saved scenario says how it was run.
    pub fn apply(&self, plan: &mut Plan) -> Result<(), ScenarioError> {
        self.check_common(&plan.feeders)?;
        if let Some(url) = &self.url {
            plan.target = Target::Url(parse_target_url(url).map_err(|m| ScenarioError::flag("--url", m))?);
        }
        if let Some(d) = self.duration {
            check_duration(d, &HumanDuration(d).to_string())?;
        }
        match (self.rate, self.duration) {
            (Some(rate), d) => {
                check_rate(rate)?;
                if rate == 0.0 {
                    return Err(ScenarioError::flag(
                        "--rate",
                        "0 would send nothing: give requests per second > 0",
                    ));
                }
                let arrivals = plan.stages.first().map_or(Arrivals::Uniform, |s| s.arrivals);
                let duration = d.unwrap_or_else(|| plan.total_duration());
                plan.stages = vec![Stage {
                    name: "constant".into(),
                    duration,
                    shape: StageShape::Constant { rate },
                    arrivals,
                }];
            }
            (None, Some(d)) => set_total_duration(&mut plan.stages, d),
            (None, None) => {}
        }
        for h in &self.headers {
            let (name, value) = parse_header(h, &plan.feeders)?;
            for r in &mut plan.requests {
                r.headers.retain(|(n, _)| *n != name);
                r.headers.push((name.clone(), value.clone()));
            }
        }
        if let Some(m) = &self.method {
            let m = parse_method(m).map_err(|e| ScenarioError::flag("--method", e))?;
            plan.requests.iter_mut().for_each(|r| r.method = m.clone());
        }
        if let Some(b) = &self.body {
            let body =
                template::compile(b, &plan.feeders).map_err(|e| ScenarioError::flag("--body", e.message))?;
            plan.requests.iter_mut().for_each(|r| r.body = Some(body.clone()));
        }
        if let Some(c) = self.connections {
            plan.connections.max = c;
        }
        if self.http2 {
            plan.connections.http2 = true;
        }
        if let Some(n) = self.threads {
            plan.threads = Some(n);
        }
        if let Some(p) = self.pacer() {
            plan.pacer = p?;
        }
        if let Some(d) = self.timeout {
            plan.timeout = d;
        }
        if let Some(d) = self.connect_timeout {
            plan.connections.connect_timeout = Some(d);
        }
        if let Some(ct) = plan.connections.connect_timeout {
            // Checked against the timeout as it now is: either flag may have changed one side.
            let r = self.check_connect_timeout(ct, plan.timeout);
            r.map_err(|m| if self.connect_timeout.is_some() { ScenarioError::flag("--connect-timeout", m) } else { ScenarioError::flag("--timeout", format!("the scenario's target.connect_timeout {m}")) })?;
        }
        // After the stages are final: a check may name one.
        super::resolve::add_run_checks(plan, &self.checks).map_err(|m| ScenarioError::flag("--check", m))?;
        let flags = self.describe();
        if !flags.is_empty() {
            // The schedule flags also machine-readably, before the prose (`skyload merge` reads them).
            let record = super::overrides_record::line(self).map(|l| format!("{l}\n")).unwrap_or_default();
            plan.source_text = format!(
                "{}\n{record}# Run with these flags on top of this file (they replace what they name): {}\n",
                plan.source_text.trim_end(),
                flags.join(" ")
            );
        }
        Ok(())
    }

    /// Checks shared by both uses, so a bad flag is named even before the file is looked at.
    fn check_common(&self, feeders: &[super::plan::Feeder]) -> Result<(), ScenarioError> {
        if let Some(m) = &self.method {
            parse_method(m).map_err(|e| ScenarioError::flag("--method", e))?;
        }
        for h in &self.headers {
            parse_header(h, feeders)?;
        }
        if let Some(b) = &self.body {
            template::compile(b, feeders).map_err(|e| ScenarioError::flag("--body", e.message))?;
        }
        if let Some(p) = self.pacer() {
            p?;
        }
        if self.timeout.is_some_and(|d| d.is_zero()) {
            return Err(ScenarioError::flag("--timeout", "0 is not allowed: the whole-request timeout must be longer than zero (e.g. 5s)"));
        }
        match self.threads {
            Some(0) => return Err(ScenarioError::flag("--threads", "0 is not allowed: the number of generator threads, >= 1")),
            Some(n) => super::bounds::threads(n).map_err(|m| ScenarioError::flag("--threads", format!("{n} is not allowed: {m}")))?,
            None => {}
        }
        if self.connections == Some(0) {
            return Err(ScenarioError::flag(
                "--connections",
                "0 is not allowed: the number of TCP connections, >= 1",
            ));
        }
        Ok(())
    }

    /// `bounds::connect_timeout` with the flags as typed (a value from the file as it is shown).
    fn check_connect_timeout(&self, ct: Duration, whole: Duration) -> Result<(), String> {
        let shown = |typed: &Option<String>, d: Duration| typed.clone().unwrap_or_else(|| HumanDuration(d).to_string());
        let ct_text = if self.connect_timeout.is_some() { shown(&self.connect_timeout_text, ct) } else { HumanDuration(ct).to_string() };
        let whole_text = if self.timeout.is_some() { shown(&self.timeout_text, whole) } else { HumanDuration(whole).to_string() };
        super::bounds::connect_timeout(ct, &ct_text, whole, &whole_text)
    }

    fn pacer(&self) -> Option<Result<super::pacing::PacerKind, ScenarioError>> {
        self.pacer.as_deref().map(|p| {
            super::pacing::PacerKind::parse(p)
                .ok_or_else(|| ScenarioError::flag("--pacer", format!("\"{p}\" is not allowed; {}", super::pacing::PacerKind::allowed())))
        })
    }

    /// The flags as they would be typed, for the record in `source_text`.
    fn describe(&self) -> Vec<String> {
        let q = |s: &str| {
            if s.contains(|c: char| c.is_whitespace() || c == '"' || c == '\'') {
                format!("{s:?}")
            } else {
                s.to_string()
            }
        };
        let mut out = Vec::new();
        if let Some(u) = &self.url {
            out.push(format!("--url {}", q(u)));
        }
        if let Some(r) = self.rate {
            out.push(format!("--rate {r}"));
        }
        if let Some(d) = self.duration {
            out.push(format!("--duration {}", HumanDuration(d)));
        }
        if let Some(m) = &self.method {
            out.push(format!("--method {}", q(m)));
        }
        for h in &self.headers {
            out.push(format!("--header {}", q(h)));
        }
        if let Some(b) = &self.body {
            out.push(format!("--body {}", q(b)));
        }
        if let Some(c) = self.connections {
            out.push(format!("--connections {c}"));
        }
        if let Some(n) = self.threads {
            out.push(format!("--threads {n}"));
        }
        if self.http2 {
            out.push("--http2".into());
        }
        if let Some(p) = &self.pacer {
            out.push(format!("--pacer {}", q(p)));
        }
        for c in &self.checks {
            out.push(format!("--check {}", q(c)));
        }
        if let Some(d) = self.timeout {
            out.push(format!("--timeout {}", HumanDuration(d)));
        }
        if let Some(d) = self.connect_timeout {
            out.push(format!("--connect-timeout {}", HumanDuration(d)));
        }
        out
    }
}

fn check_rate(rate: f64) -> Result<(), ScenarioError> {
    if rate.is_finite() && rate >= 0.0 {
        Ok(())
    } else {
        Err(ScenarioError::flag(
            "--rate",
            format!("{rate} is not allowed: a rate is requests per second, a number >= 0"),
        ))
    }
}

/// `--duration` as typed: parsed and checked, every message showing the value as the user wrote
/// it (`200h`, not the seconds it comes to).
pub fn duration_flag(typed: &str) -> Result<Duration, ScenarioError> {
    let d = crate::units::parse_duration(typed).map_err(|e| ScenarioError::flag("--duration", e.to_string()))?;
    check_duration(d, typed.trim())?;
    Ok(d)
}

/// `shown` is how the value was written (a flag's text, or the duration formatted).
fn check_duration(d: Duration, shown: &str) -> Result<(), ScenarioError> {
    if d.is_zero() {
        return Err(ScenarioError::flag("--duration", format!("`{shown}` is 0: give how long to run, more than 0 (e.g. 30s)")));
    }
    // bounds::check would refuse it too, but as the stages' total, without naming the flag.
    let max = super::bounds::MAX_DURATION_S;
    if d.as_secs_f64() > max {
        return Err(ScenarioError::flag("--duration", format!("`{shown}` is too long: a run lasts at most 7 days ({}h)", max / 3600.0)));
    }
    Ok(())
}

/// `http://h:1/fn/x?a=1` → (`http://h:1`, `/fn/x?a=1`): a quick run loads exactly that URL.
fn split_url(url: &str) -> Result<(String, String), ScenarioError> {
    let rest_at = url.find("://").map(|i| i + 3).unwrap_or(0);
    match url[rest_at..].find(['/', '?']) {
        Some(i) => {
            let (base, path) = url.split_at(rest_at + i);
            let path = if path.starts_with('?') { format!("/{path}") } else { path.to_string() };
            Ok((base.to_string(), path))
        }
        None => Ok((url.to_string(), "/".to_string())),
    }
}

fn split_header(h: &str) -> Result<(&str, &str), ScenarioError> {
    let (name, value) = h.split_once(':').ok_or_else(|| {
        ScenarioError::flag(
            "--header",
            format!("`{h}` is not \"Name: value\" (e.g. --header \"authorization: Bearer abc\")"),
        )
    })?;
    Ok((name.trim(), value.trim()))
}

fn parse_header(
    h: &str,
    feeders: &[super::plan::Feeder],
) -> Result<(HeaderName, super::plan::Template), ScenarioError> {
    let (name, value) = split_header(h)?;
    let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
        ScenarioError::flag(
            "--header",
            format!("`{name}` is not a valid header name (letters, digits and `-`)"),
        )
    })?;
    let value = template::compile(value, feeders).map_err(|e| ScenarioError::flag("--header", e.message))?;
    Ok((name, value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::plan::{Part, Template};

    fn quick() -> Overrides {
        Overrides {
            url: Some("http://127.0.0.1:8080/fn/hello?x=1".into()),
            rate: Some(50.0),
            duration: Some(Duration::from_secs(10)),
            ..Default::default()
        }
    }

    /// `--duration 100000h` was refused as "the stages last 360000000s", naming no flag.
    #[test]
    fn a_duration_over_the_bound_names_the_flag() {
        let long = Overrides { duration: Some(Duration::from_secs(100_000 * 3600)), ..quick() };
        let e = long.to_plan().unwrap_err().to_string();
        assert!(e.contains("--duration") && e.contains("7 days"), "{e}");
        let mut p = quick().to_plan().unwrap();
        let e = Overrides { duration: Some(Duration::from_secs(8 * 24 * 3600)), ..Default::default() }.apply(&mut p).unwrap_err().to_string();
        assert!(e.contains("--duration"), "{e}");
        assert!(Overrides { duration: Some(Duration::from_secs(7 * 24 * 3600)), ..quick() }.to_plan().is_ok());
    }

    #[test]
    fn flags_alone_build_a_one_request_plan() {
        let o = Overrides {
            headers: vec!["X-Id: {{uuid}}".into()],
            method: Some("post".into()),
            body: Some("{\"a\": 1}".into()),
            connections: Some(4),
            http2: true,
            ..quick()
        };
        let p = o.to_plan().unwrap();
        assert_eq!(p.name, "127.0.0.1");
        assert_eq!(p.source_path, None);
        let Target::Url(u) = &p.target else { panic!() };
        assert_eq!(u.to_url(), "http://127.0.0.1:8080");
        assert_eq!(
            p.stages,
            vec![Stage {
                name: "constant".into(),
                duration: Duration::from_secs(10),
                shape: StageShape::Constant { rate: 50.0 },
                arrivals: Arrivals::Uniform
            }]
        );
        let r = &p.requests[0];
        assert_eq!((r.method.as_str(), r.path.as_literal()), ("POST", Some("/fn/hello?x=1")));
        assert_eq!(r.headers, vec![(HeaderName::from_static("x-id"), Template { parts: vec![Part::Uuid] })]);
        assert_eq!(r.body.as_ref().and_then(|b| b.as_literal()), Some("{\"a\": 1}"));
        assert_eq!((p.connections.max, p.connections.http2), (4, true));
        assert_eq!(p.threads, None, "no --threads: the engine picks one per 25,000/s");
        assert_eq!(Overrides { threads: Some(3), ..quick() }.to_plan().unwrap().threads, Some(3));
        let mut f = file_plan();
        Overrides { threads: Some(2), ..Default::default() }.apply(&mut f).unwrap();
        assert!(f.threads == Some(2) && f.source_text.contains("--threads 2"), "--threads replaces the file's and is recorded");
        assert_eq!(p.pod_header, None);
        // The generated text is itself a valid scenario that builds the same plan.
        let again = crate::scenario::load_str(&p.source_text, Path::new("again.toml")).unwrap();
        assert_eq!(again.stages, p.stages);
    }

    #[test]
    fn flags_alone_name_what_is_missing() {
        for (o, flag) in [
            (Overrides { url: None, ..quick() }, "--url"),
            (Overrides { rate: None, ..quick() }, "--rate"),
            (Overrides { duration: None, ..quick() }, "--duration"),
            (Overrides { rate: Some(-1.0), ..quick() }, "--rate"),
            (Overrides { url: Some("ftp://x".into()), ..quick() }, "--url"),
            (Overrides { headers: vec!["nocolon".into()], ..quick() }, "--header"),
            (Overrides { method: Some("GTE".into()), ..quick() }, "--method"),
            (Overrides { body: Some("{{user}}".into()), ..quick() }, "--body"),
            (Overrides { threads: Some(0), ..quick() }, "--threads"),
            (Overrides { threads: Some(100_000), ..quick() }, "--threads"),
        ] {
            let e = o.to_plan().unwrap_err().to_string();
            assert!(e.starts_with(flag), "{flag}: {e}");
        }
    }

    fn file_plan() -> Plan {
        let text = "[target]\nembedded = true\n[gateway.functions.a]\npods = 1\n[[stages]]\nramp_to = 100\nduration = \"10s\"\narrivals = \"poisson\"\n[[stages]]\nrate = 100\nduration = \"20s\"\n[[requests]]\nname = \"a\"\npath = \"/a\"\nheaders = { x-keep = \"1\", x-over = \"old\" }\n[[requests]]\nname = \"b\"\npath = \"/b\"\n";
        crate::scenario::load_str(text, Path::new("f.toml")).unwrap()
    }

    #[test]
    fn rate_replaces_all_stages() {
        let mut p = file_plan();
        Overrides { rate: Some(7.0), ..Default::default() }.apply(&mut p).unwrap();
        assert_eq!(
            p.stages,
            vec![Stage {
                name: "constant".into(),
                duration: Duration::from_secs(30),
                shape: StageShape::Constant { rate: 7.0 },
                arrivals: Arrivals::Poisson
            }]
        );
        let mut p = file_plan();
        Overrides { rate: Some(7.0), duration: Some(Duration::from_secs(5)), ..Default::default() }
            .apply(&mut p)
            .unwrap();
        assert_eq!(p.total_duration(), Duration::from_secs(5));
        assert!(p.source_text.ends_with("# Run with these flags on top of this file (they replace what they name): --rate 7 --duration 5s\n"));
    }

    #[test]
    fn duration_alone_cuts_or_extends() {
        let mut p = file_plan();
        Overrides { duration: Some(Duration::from_secs(5)), ..Default::default() }.apply(&mut p).unwrap();
        assert_eq!(p.stages.len(), 1);
        assert_eq!(p.stages[0].shape, StageShape::Ramp { from: 0.0, to: 50.0 });
        let mut p = file_plan();
        Overrides { duration: Some(Duration::from_secs(60)), ..Default::default() }.apply(&mut p).unwrap();
        assert_eq!((p.stages.len(), p.stages[1].duration), (2, Duration::from_secs(50)));
    }

    #[test]
    fn url_headers_method_body_apply_everywhere() {
        let mut p = file_plan();
        let o = Overrides {
            url: Some("http://10.0.0.1:9000/v1".into()),
            headers: vec!["X-Over: new".into(), "x-add: {{seq}}".into()],
            method: Some("PUT".into()),
            body: Some("hi".into()),
            connections: Some(3),
            http2: true,
            ..Default::default()
        };
        o.apply(&mut p).unwrap();
        let Target::Url(u) = &p.target else { panic!("--url replaces the embedded target") };
        assert_eq!(u.base_path, "/v1");
        let a = &p.requests[0];
        let names: Vec<&str> = a.headers.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, vec!["x-keep", "x-over", "x-add"]);
        assert_eq!(a.headers[1].1.as_literal(), Some("new"));
        assert!(p
            .requests
            .iter()
            .all(|r| r.method == http::Method::PUT && r.body.is_some() && r.headers.len() >= 2));
        assert_eq!((p.connections.max, p.connections.http2), (3, true));
    }

    #[test]
    fn splits_quick_urls() {
        assert_eq!(split_url("http://h:1").unwrap(), ("http://h:1".into(), "/".into()));
        assert_eq!(split_url("http://h/a/b?c").unwrap(), ("http://h".into(), "/a/b?c".into()));
        assert_eq!(split_url("http://h?c=1").unwrap(), ("http://h".into(), "/?c=1".into()));
    }

    #[test]
    fn a_quick_run_with_a_body_and_no_method_is_a_post_and_timeout_is_kept() {
        let o = Overrides { body: Some("{}".into()), timeout: Some(Duration::from_millis(1500)), ..quick() };
        let p = o.to_plan().unwrap();
        assert_eq!(p.requests[0].method, http::Method::POST);
        assert_eq!(p.timeout, Duration::from_millis(1500));
        assert!(p.source_text.contains("--timeout 1500ms"), "{}", p.source_text);
        let p = Overrides { method: Some("PUT".into()), ..o.clone() }.to_plan().unwrap();
        assert_eq!(p.requests[0].method, http::Method::PUT);
        assert_eq!(quick().to_plan().unwrap().requests[0].method, http::Method::GET);
        let e = Overrides { timeout: Some(Duration::ZERO), ..quick() }.to_plan().unwrap_err().to_string();
        assert!(e.contains("--timeout") && e.contains("longer than zero"), "{e}");
    }

}
