//! The scenario format from the outside: malformed files give file:line:column + field messages,
//! a full example resolves to the expected Plan, every committed scenario parses (so examples never
//! rot), and `skyload validate` reports through the binary with exit code 2.

use http::{HeaderName, Method};
use skyload::scenario::{
    self, Arrivals, FeedMode, HeaderMatch, Matcher, Overrides, Part, StageShape, StatusMatch, Target,
};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const TARGET: &str = "[target]\nurl = \"http://127.0.0.1:8080\"\n";
const STAGE: &str = "\n[[stages]]\nrate = 5\nduration = \"1s\"\n";
const REQUEST: &str = "\n[[requests]]\npath = \"/\"\n";

/// The error message for a scenario text loaded as `bad.toml` (feeders resolve from the crate root).
fn error(text: &str) -> String {
    match scenario::load_str(text, Path::new("bad.toml")) {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(e) => e.to_string(),
    }
}

#[track_caller]
fn assert_error(text: &str, prefix: &str, contains: &[&str]) {
    let e = error(text);
    assert!(e.starts_with(prefix), "want prefix {prefix:?}\n got {e}");
    for c in contains {
        assert!(e.contains(c), "want {c:?} in\n{e}");
    }
}

#[test]
fn unknown_field_names_the_table_and_a_suggestion() {
    let text = format!("{TARGET}{STAGE}\n[[stages]]\nrat = 5\nduration = \"1s\"\n{REQUEST}");
    assert_error(
        &text,
        "bad.toml:9:1: stages[1]: unknown field `rat` in [[stages]]; allowed: name, rate, ramp_to, from, steps, duration, step_duration, arrivals",
        &["(did you mean `rate`?)"],
    );
}

#[test]
fn top_level_key_under_a_table_is_explained() {
    let text = format!("{TARGET}seed = 3\n{STAGE}{REQUEST}");
    assert_error(
        &text,
        "bad.toml:3:1: target: unknown field `seed` in [target]",
        &["`seed` is a top-level field"],
    );
}

#[test]
fn duration_without_unit() {
    let text = format!("{TARGET}timeout = 5\n{STAGE}{REQUEST}");
    assert_error(
        &text,
        "bad.toml:3:11: target.timeout: `5` has no unit: write it as a string with one of us, ms, s, m, h (e.g. \"5s\")",
        &[],
    );
    let text = format!("{TARGET}\n[[stages]]\nrate = 5\nduration = \"5 parsecs\"\n{REQUEST}");
    assert_error(
        &text,
        "bad.toml:6:12: stages[0].duration: `5 parsecs` is not a duration",
        &["us, ms, s, m, h"],
    );
}

#[test]
fn negative_rate() {
    let text = format!("{TARGET}\n[[stages]]\nrate = -5\nduration = \"1s\"\n{REQUEST}");
    assert_error(
        &text,
        "bad.toml:5:8: stages[0].rate: -5 is not allowed: a rate is requests per second, a number >= 0",
        &[],
    );
    let text = format!("{TARGET}\n[[stages]]\nsteps = [1, -2.5]\nduration = \"1s\"\n{REQUEST}");
    assert_error(&text, "bad.toml:5:13: stages[0].steps[1]: -2.5 is not allowed", &[]);
    let text = format!("{TARGET}\n[[stages]]\nrate = \"fast\"\nduration = \"1s\"\n{REQUEST}");
    assert_error(
        &text,
        "bad.toml:5:8: stages[0].rate: invalid type: string \"fast\", expected a number",
        &[],
    );
}

#[test]
fn stage_shapes() {
    let text = format!("{TARGET}\n[[stages]]\nrate = 5\nramp_to = 10\nduration = \"1s\"\n{REQUEST}");
    assert_error(&text, "bad.toml:6:11: stages[0]: give exactly one of rate, ramp_to, steps (this stage has rate and ramp_to)", &[]);
    let text = format!("{TARGET}\n[[stages]]\nduration = \"1s\"\n{REQUEST}");
    assert_error(
        &text,
        "bad.toml:4:1: stages[0]: give exactly one of rate, ramp_to, steps (this stage has none)",
        &[],
    );
    let text = format!("{TARGET}\n[[stages]]\nrate = 5\nfrom = 1\nduration = \"1s\"\n{REQUEST}");
    assert_error(&text, "bad.toml:6:8: stages[0].from: from is only used with ramp_to", &[]);
    let text = format!("{TARGET}\n[[stages]]\nrate = 5\narrivals = \"poison\"\nduration = \"1s\"\n{REQUEST}");
    assert_error(&text, "bad.toml:6:12: stages[0].arrivals: `poison` is not allowed; allowed: uniform, poisson (did you mean `poisson`?)", &[]);
    let text = format!(
        "{TARGET}{STAGE}{STAGE}\n[[stages]]\nname = \"stage-1\"\nrate = 1\nduration = \"1s\"\n{REQUEST}"
    );
    assert_error(
        &text,
        "bad.toml:13:8: stages[2].name: `stage-1` is already the name of an earlier stage",
        &[],
    );
}

#[test]
fn unknown_template_variable_points_inside_the_string() {
    let text = format!("{TARGET}{STAGE}\n[[requests]]\npath = \"/u/{{{{usr_id}}}}\"\n\n[[feeders]]\nname = \"users\"\nfile = \"scenarios/data/users.csv\"\n");
    assert_error(
        &text,
        "bad.toml:9:12: requests[0].path: unknown variable `usr_id`: known variables: user_id, users.user_id",
        &["(did you mean `user_id`?)", "built-ins: seq, uuid, trace_id, rand_int A B"],
    );
    let text = format!("{TARGET}{STAGE}\n[[requests]]\npath = \"/\"\nbody = \"{{{{seq}}}} {{{{oops\"\n");
    assert_error(&text, "bad.toml:10:17: requests[0].body: `{{` is not closed", &[]);
}

#[test]
fn bad_urls() {
    let with = |url: &str| format!("[target]\nurl = \"{url}\"\n{STAGE}{REQUEST}");
    assert_error(
        &with("ftp://api.example.com"),
        "bad.toml:2:7: target.url: `ftp://api.example.com`: the scheme `ftp` is not supported; only http:// or https://",
        &[],
    );
    assert_error(&with("http://"), "bad.toml:2:7: target.url: `http://` is not a URL", &[]);
    assert_error(&with("127.0.0.1:8080"), "bad.toml:2:7: target.url:", &["http://"]);
    let text = format!("[target]\nurl = \"http://h\"\nembedded = true\n{STAGE}{REQUEST}");
    assert_error(&text, "bad.toml:3:12: target.embedded: give exactly one of url, embedded", &[]);
}

#[test]
fn missing_feeder_file() {
    let text = format!("{TARGET}{STAGE}{REQUEST}\n[[feeders]]\nname = \"users\"\nfile = \"no/such.csv\"\n");
    assert_error(
        &text,
        "bad.toml:13:8: feeders[0].file: cannot read `no/such.csv`",
        &["relative to the scenario file"],
    );
}

#[test]
fn embedded_needs_a_gateway_and_url_refuses_one() {
    let text = format!("[target]\nembedded = true\n{STAGE}{REQUEST}");
    assert_error(&text, "bad.toml:2:12: target.embedded: embedded = true needs a [gateway] table", &[]);
    let text = format!("{TARGET}{STAGE}{REQUEST}\n[gateway]\n");
    assert_error(
        &text,
        "bad.toml:11:1: gateway: [gateway] configures the embedded target, but [target] has url",
        &[],
    );
}

#[test]
fn requests_and_outcomes() {
    let text = format!("{TARGET}{STAGE}\n[[requests]]\npath = \"/\"\nmethod = \"GTE\"\n");
    assert_error(&text, "bad.toml:10:10: requests[0].method: `GTE` is not allowed; allowed: GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS (did you mean `GET`?)", &[]);
    let text = format!("{TARGET}{STAGE}\n[[requests]]\npath = \"fn/x\"\n");
    assert_error(&text, "bad.toml:9:8: requests[0].path: `fn/x` is not allowed: a path starts with `/`", &[]);
    let text = format!("{TARGET}{STAGE}{REQUEST}\n[[outcomes]]\nname = \"dropped\"\nstatus = 500\n");
    assert_error(&text, "bad.toml:12:8: outcomes[0].name: `dropped` is reserved for transport failures", &[]);
    let text = format!("{TARGET}{STAGE}{REQUEST}\n[[outcomes]]\nname = \"x\"\nequals = \"1\"\n");
    assert_error(
        &text,
        "bad.toml:13:10: outcomes[0].equals: equals compares a header's value, so it needs header",
        &[],
    );
    let text = format!("{TARGET}{STAGE}{REQUEST}\n[[outcomes]]\nname = \"x\"\nstatus = \"6xx\"\n");
    assert_error(&text, "bad.toml:13:10: outcomes[0].status: \"6xx\" is not allowed", &[]);
}

#[test]
fn missing_sections_and_syntax_errors() {
    assert_error(&format!("{TARGET}{REQUEST}"), "bad.toml: stages: missing [[stages]]", &[]);
    assert_error(&format!("{STAGE}{REQUEST}"), "bad.toml: target: missing [target]", &[]);
    assert_error("name = \"x\"\nstages = [\n", "bad.toml:3:1: not valid TOML: invalid array", &[]);
}

#[test]
fn full_example_resolves_to_the_expected_plan() {
    let plan = scenario::load_file(Path::new("scenarios/examples-feeders.toml")).unwrap();
    assert_eq!(plan.name, "examples-feeders");
    assert_eq!(plan.seed, 7);
    assert!(matches!(plan.target, Target::Embedded(_)));
    assert_eq!(plan.timeout, Duration::from_secs(5));
    assert_eq!(plan.pod_header, Some(HeaderName::from_static("x-pod")), "embedded targets default to x-pod");
    assert_eq!((plan.max_in_flight, plan.max_lag, plan.threads), (1_000_000, Duration::MAX, None));
    assert_eq!(plan.connections.max, 50);
    assert!(plan.source_text.starts_with("# examples-feeders"));

    let shapes: Vec<_> = plan
        .stages
        .iter()
        .map(|s| (s.name.as_str(), s.duration.as_secs(), s.shape.clone(), s.arrivals))
        .collect();
    assert_eq!(
        shapes,
        vec![
            ("ramp", 30, StageShape::Ramp { from: 0.0, to: 200.0 }, Arrivals::Poisson),
            ("plateau", 60, StageShape::Constant { rate: 200.0 }, Arrivals::Poisson),
        ]
    );
    assert_eq!(
        (plan.total_duration(), plan.expected_requests(), plan.peak_rate()),
        (Duration::from_secs(90), 15_000.0, 200.0)
    );

    assert_eq!(plan.feeders.len(), 1);
    let users = &plan.feeders[0];
    assert_eq!(
        (users.name.as_str(), users.columns.clone(), users.rows.len(), users.mode),
        ("users", vec!["user_id".into(), "tier".into(), "region".into()], 8, FeedMode::Random)
    );

    let [profile, update] = plan.requests.as_slice() else { panic!("two requests") };
    assert_eq!((profile.name.as_str(), profile.weight, &profile.method), ("profile", 8, &Method::GET));
    assert_eq!(
        profile.path.parts,
        vec![
            Part::Lit("/fn/hello?user=".into()),
            Part::Var { feeder: 0, column: 0 },
            Part::Lit("&tier=".into()),
            Part::Var { feeder: 0, column: 1 }
        ]
    );
    let names =
        |r: &scenario::RequestPlan| r.headers.iter().map(|(n, _)| n.as_str().to_string()).collect::<Vec<_>>();
    assert_eq!(names(profile), vec!["authorization", "x-request-id"]);
    assert_eq!(profile.headers[1].1.parts, vec![Part::Uuid]);
    assert_eq!((update.weight, &update.method), (2, &Method::POST));
    assert_eq!(names(update), vec!["authorization", "x-request-id", "content-type"]);
    let body = update.body.as_ref().unwrap();
    assert!(body.parts.contains(&Part::RandInt(1, 100)) && body.parts.contains(&Part::Seq));
    assert_eq!(body.feeders().collect::<Vec<_>>(), vec![0, 0]);

    assert_eq!(
        plan.matchers,
        vec![
            Matcher {
                outcome: "fallback".into(),
                status: None,
                header: Some(HeaderMatch {
                    name: HeaderName::from_static("x-fallback"),
                    equals: Some("1".into())
                }),
                body_contains: None
            },
            Matcher {
                outcome: "limited".into(),
                status: Some(StatusMatch::Codes(vec![429])),
                header: None,
                body_contains: None
            },
            Matcher {
                outcome: "upstream_error".into(),
                status: Some(StatusMatch::Class(5)),
                header: None,
                body_contains: None
            },
        ]
    );
}

#[test]
fn defaults_of_a_minimal_file() {
    let plan =
        scenario::load_str(&format!("{TARGET}{STAGE}{REQUEST}"), Path::new("dir/minimal.toml")).unwrap();
    assert_eq!(plan.name, "minimal");
    assert_eq!((plan.seed, plan.timeout, plan.pod_header.clone()), (1, Duration::from_secs(10), None));
    assert_eq!(plan.connections, scenario::ConnectionPlan::default());
    assert_eq!(
        (plan.stages[0].name.as_str(), plan.requests[0].name.as_str(), plan.requests[0].weight),
        ("stage-1", "request-1", 1)
    );
    let Target::Url(u) = &plan.target else { panic!() };
    assert_eq!((u.host.as_str(), u.port, u.base_path.as_str()), ("127.0.0.1", 8080, ""));
}

#[test]
fn ramp_from_defaults_to_the_previous_final_rate() {
    let text = format!("{TARGET}{STAGE}\n[[stages]]\nramp_to = 50\nduration = \"2s\"\n\n[[stages]]\nsteps = [1, 2]\nstep_duration = \"3s\"\n\n[[stages]]\nramp_to = 0\nduration = \"1s\"\n{REQUEST}");
    let plan = scenario::load_str(&text, Path::new("r.toml")).unwrap();
    assert_eq!(plan.stages[1].shape, StageShape::Ramp { from: 5.0, to: 50.0 });
    assert_eq!(
        (plan.stages[2].duration, plan.stages[3].shape.clone()),
        (Duration::from_secs(6), StageShape::Ramp { from: 2.0, to: 0.0 })
    );
}

#[test]
fn every_committed_scenario_parses() {
    let mut seen = 0;
    for entry in std::fs::read_dir("scenarios").unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            if let Err(e) = scenario::load_file(&path) {
                panic!("{e}");
            }
            seen += 1;
        }
    }
    assert!(seen >= 1, "scenarios/ should hold at least the examples");
}

#[test]
fn flags_on_a_file() {
    let mut plan = scenario::load_file(Path::new("scenarios/examples-feeders.toml")).unwrap();
    let o = Overrides { url: Some("http://10.1.2.3:9000".into()), rate: Some(50.0), ..Default::default() };
    o.apply(&mut plan).unwrap();
    assert!(matches!(&plan.target, Target::Url(u) if u.authority == "10.1.2.3:9000"));
    assert_eq!(
        (plan.stages.len(), plan.total_duration(), plan.stages[0].arrivals),
        (1, Duration::from_secs(90), Arrivals::Poisson)
    );
}

fn skyload(args: &[&std::ffi::OsStr]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_skyload")).args(args).output().unwrap()
}

#[test]
fn validate_binary_reports_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, format!("{TARGET}\n[[stages]]\nrate = -5\nduration = \"1s\"\n{REQUEST}")).unwrap();
    let good = Path::new("scenarios/examples-feeders.toml");

    let out = skyload(&["validate".as_ref(), good.as_os_str(), bad.as_os_str()]);
    assert_eq!(out.status.code(), Some(2));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stdout,
        "ok  scenarios/examples-feeders.toml  (2 stages, 1m30s total, 15000 requests, peak 200 rps)\n"
    );
    assert!(
        stderr.contains(&format!("{}:5:8: stages[0].rate: -5 is not allowed", bad.display())),
        "{stderr}"
    );

    let out = skyload(&["validate".as_ref(), good.as_os_str()]);
    assert_eq!(out.status.code(), Some(0));
}
