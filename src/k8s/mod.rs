//! Kubernetes manifests for a sharded run, as typed serde structs (only the fields used), so the
//! output is well-formed by construction and tests can read it back. A run is four objects: a
//! Secret with the scenario (and its feeder files), a ReadWriteMany PersistentVolumeClaim for
//! Results (unless an existing claim is named), an Indexed Job whose pod k runs shard k/N from the
//! common start time, and a merge Job that waits for the shards' `summary.json` files (or a
//! deadline) on the shared volume and merges them. Everything can be applied at once.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Meta {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// Any top-level object: `apiVersion`, `kind`, `metadata` and its body.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Object<B> {
    pub api_version: String,
    pub kind: String,
    pub metadata: Meta,
    #[serde(flatten)]
    pub body: B,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SecretBody {
    /// A Secret's plain-text data: the scenario holds tokens and feeders hold user data, which a
    /// ConfigMap shows to anyone allowed to read the namespace's config.
    #[serde(rename = "stringData")]
    pub data: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PvcBody {
    pub spec: PvcSpec,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PvcSpec {
    pub access_modes: Vec<String>,
    pub resources: Resources,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class_name: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Resources {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub requests: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct JobBody {
    pub spec: JobSpec,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct JobSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_mode: Option<String>,
    pub completions: u32,
    pub parallelism: u32,
    /// Failed pods the whole Job tolerates (the merge's); unset on the shards' Job, whose limit
    /// is per shard (`backoff_limit_per_index`), so one shard's failures never end the others.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff_limit: Option<u32>,
    /// Retries per shard (Indexed Jobs; Kubernetes 1.29+, GA in 1.33): see `shard_failure_policy`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff_limit_per_index: Option<u32>,
    /// Which pod failures are final (Kubernetes 1.26+, GA in 1.31): see `merge_failure_policy`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_failure_policy: Option<serde_json::Value>,
    pub template: PodTemplate,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PodTemplate {
    pub metadata: Meta,
    pub spec: PodSpec,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PodSpec {
    pub restart_policy: String,
    pub containers: Vec<Container>,
    pub volumes: Vec<Volume>,
    /// Results files belong to the image's user (10001), so it can write to the claim.
    pub security_context: PodSecurity,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub topology_spread_constraints: Vec<serde_json::Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PodSecurity {
    pub fs_group: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Container {
    pub name: String,
    pub image: String,
    pub command: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<serde_json::Value>,
    pub volume_mounts: Vec<VolumeMount>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<serde_json::Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct VolumeMount {
    pub name: String,
    pub mount_path: String,
    #[serde(default)]
    pub read_only: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Volume {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<SecretSource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persistent_volume_claim: Option<ClaimSource>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SecretSource {
    #[serde(rename = "secretName")]
    pub name: String,
    pub items: Vec<KeyToPath>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct KeyToPath {
    pub key: String,
    pub path: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ClaimSource {
    pub claim_name: String,
}

/// Where things are inside the pods.
/// Shards (pods of the Indexed Job) one `skyload k8s` plans: beyond this the Job's completions
/// and the merge's wait are no longer a test rig.
pub const MAX_JOB_SHARDS: u32 = 10_000;
pub const SCENARIO_DIR: &str = "/scenario";
pub const RESULTS_DIR: &str = "/results";
pub const SCENARIO_KEY: &str = crate::record::results::SCENARIO_COPY;

/// Everything the manifests are made from.
#[derive(Debug, Clone)]
pub struct Spec {
    pub name: String,
    pub namespace: String,
    pub image: String,
    pub shards: u32,
    /// `--start-at` value given to every shard (RFC 3339).
    pub start_at: String,
    /// Directory name of this run under the claim (so runs on one claim do not mix).
    pub run_id: String,
    pub scenario_text: String,
    /// Feeder files: (Secret key, path relative to the scenario file, content).
    pub files: Vec<(String, String, String)>,
    /// None: create `<name>-results`.
    pub claim: Option<String>,
    pub storage: String,
    pub storage_class: Option<String>,
    pub run_args: Vec<String>,
    /// Unix seconds after which the merge stops waiting for missing shards and merges the rest.
    pub merge_deadline_unix: u64,
}

/// The manifests, in the order they are applied.
pub struct Manifests {
    pub secret: Object<SecretBody>,
    pub claim: Option<Object<PvcBody>>,
    pub shards: Object<JobBody>,
    pub merge: Object<JobBody>,
}

impl Manifests {
    /// (file name, YAML) per object.
    pub fn files(&self) -> Result<Vec<(String, String)>, serde_yaml::Error> {
        let mut out = vec![("00-secret.yaml".to_string(), serde_yaml::to_string(&self.secret)?)];
        if let Some(c) = &self.claim {
            out.push(("01-results-pvc.yaml".into(), serde_yaml::to_string(c)?));
        }
        out.push(("02-shards-job.yaml".into(), serde_yaml::to_string(&self.shards)?));
        out.push(("03-merge-job.yaml".into(), serde_yaml::to_string(&self.merge)?));
        Ok(out)
    }
}

fn meta(spec: &Spec, name: String, component: &str) -> Meta {
    let labels = [
        ("app.kubernetes.io/name".to_string(), "skyload".to_string()),
        ("app.kubernetes.io/instance".to_string(), spec.name.clone()),
        ("app.kubernetes.io/component".to_string(), component.to_string()),
    ]
    .into();
    Meta { name, namespace: Some(spec.namespace.clone()), labels, annotations: BTreeMap::new() }
}

fn job(spec: &Spec, name: String, component: &str, js: (Option<String>, u32), container: Container, spread: bool) -> Object<JobBody> {
    let claim = spec.claim.clone().unwrap_or_else(|| format!("{}-results", spec.name));
    let mut items = vec![KeyToPath { key: SCENARIO_KEY.into(), path: SCENARIO_KEY.into() }];
    items.extend(spec.files.iter().map(|(k, p, _)| KeyToPath { key: k.clone(), path: p.clone() }));
    let pod_meta = Meta { namespace: None, ..meta(spec, name.clone(), component) };
    let spread = if spread {
        vec![serde_json::json!({
            "maxSkew": 1,
            "topologyKey": "kubernetes.io/hostname",
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": {
                "app.kubernetes.io/instance": spec.name, "app.kubernetes.io/component": component}},
        })]
    } else {
        Vec::new()
    };
    Object {
        api_version: "batch/v1".into(),
        kind: "Job".into(),
        metadata: meta(spec, name, component),
        body: JobBody {
            spec: JobSpec {
                completion_mode: js.0,
                completions: js.1,
                parallelism: js.1,
                backoff_limit: None,
                backoff_limit_per_index: None,
                pod_failure_policy: None,
                template: PodTemplate {
                    metadata: pod_meta,
                    spec: PodSpec {
                        restart_policy: "Never".into(),
                        containers: vec![container],
                        volumes: vec![
                            Volume {
                                name: "scenario".into(),
                                secret: Some(SecretSource { name: format!("{}-scenario", spec.name), items }),
                                persistent_volume_claim: None,
                            },
                            Volume { name: "results".into(), secret: None, persistent_volume_claim: Some(ClaimSource { claim_name: claim }) },
                        ],
                        security_context: PodSecurity { fs_group: 10001 },
                        topology_spread_constraints: spread,
                    },
                },
            },
        },
    }
}

fn mounts() -> Vec<VolumeMount> {
    vec![
        VolumeMount { name: "scenario".into(), mount_path: SCENARIO_DIR.into(), read_only: true },
        VolumeMount { name: "results".into(), mount_path: RESULTS_DIR.into(), read_only: false },
    ]
}

/// The shell script of the merge pod: wait for every shard's summary.json (or the deadline), then
/// merge the shards that finished.
pub fn merge_script(spec: &Spec) -> String {
    let dir = format!("{RESULTS_DIR}/{}", spec.run_id);
    format!(
        r#"set -u
dir={dir}; n={n}; deadline={deadline}
while :; do
  done=$(ls "$dir"/shard-*/summary.json 2>/dev/null | wc -l)
  [ "$done" -ge "$n" ] && break
  if [ "$(date +%s)" -ge "$deadline" ]; then echo "skyload: $done of $n shards finished by the deadline; merging those"; break; fi
  sleep 5
done
set --
for d in "$dir"/shard-*; do [ -f "$d/summary.json" ] && set -- "$@" "$d"; done
[ "$#" -gt 0 ] || {{ echo "skyload: no shard finished: nothing to merge"; exit 3; }}
if [ -e "$dir/merged" ]; then
  aside="$dir/merged.attempt-$(date +%s)"
  echo "skyload: an earlier merge attempt stopped without a verdict and left $dir/merged; kept as $aside"
  mv "$dir/merged" "$aside" || exit 3
fi
exec skyload merge "$@" --out "$dir/merged"
"#,
        n = spec.shards,
        deadline = spec.merge_deadline_unix,
    )
}

/// Every exit of the merge pod's skyload is final: 1 (a check failed), 2 (usage), 4 (unstable)
/// are the run's verdict, and 3 is a run that did not happen as planned (a shard missing at the
/// deadline, one that stopped early) as often as a merge that could not be written — the same
/// inputs give the same answer again. The Job fails at once, so `kubectl logs job/<name>-merge`
/// shows the checks table and the reason. Without it the Job retried, the retry met its own
/// `merged` directory and exited 2 ("exists"), and that message was what the logs showed. A lost
/// pod (an eviction does not count) or one killed without an exit of skyload's (OOM: 137) is
/// retried (`backoffLimit` 2), and the retry sets the unfinished `merged` aside instead of
/// overwriting it (`merge_script`).
fn merge_failure_policy() -> serde_json::Value {
    serde_json::json!({"rules": [
        {"action": "FailJob", "onExitCodes": {"containerName": "merge", "operator": "In", "values": [1, 2, 3, 4]}},
        {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]},
    ]})
}

/// A shard that ran and exited 1 (its share failed a check) or 4 (unstable) has written its
/// Results, and one that exited 2 refused (a late start, an existing directory): another attempt
/// adds nothing, so the shard (the index) fails at once and the others run on — the merge's
/// verdict is the run's. Before, every such exit was retried under one `backoffLimit` for the
/// whole Job, the retry refused the late start, and once N failures were spent Kubernetes
/// stopped the shards still running. Exit 3 (could not be carried out) and a lost pod are retried
/// (`SHARD_RETRIES`, an eviction not counted) while the start time is ahead.
fn shard_failure_policy() -> serde_json::Value {
    serde_json::json!({"rules": [
        {"action": "FailIndex", "onExitCodes": {"containerName": "skyload", "operator": "In", "values": [1, 2, 4]}},
        {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]},
    ]})
}

/// Attempts after the first, per shard.
const SHARD_RETRIES: u32 = 2;

/// Where each shard pod serves its live metrics (the OpenTelemetry Prometheus exporter's port).
pub const METRICS_PORT: u16 = 9464;

pub fn build(spec: &Spec) -> Manifests {
    let mut data = BTreeMap::from([(SCENARIO_KEY.to_string(), spec.scenario_text.clone())]);
    for (k, _, content) in &spec.files {
        data.insert(k.clone(), content.clone());
    }
    // A run argument that holds a secret (`-H 'Authorization: Bearer …'`, a URL with a password)
    // would be readable in the Job's spec by anyone who may list Jobs: it goes into the Secret and
    // reaches the container as an environment variable that Kubernetes expands in `args`.
    let mut secret_env = Vec::new();
    let mut run_args = Vec::with_capacity(spec.run_args.len());
    for (i, a) in spec.run_args.iter().enumerate() {
        if crate::record::redact::text(a) == *a {
            run_args.push(a.clone());
            continue;
        }
        let key = format!("run-arg-{i}");
        data.insert(key.clone(), a.clone());
        secret_env.push(serde_json::json!({
            "name": format!("SKYLOAD_RUN_ARG_{i}"),
            "valueFrom": {"secretKeyRef": {"name": format!("{}-scenario", spec.name), "key": key}},
        }));
        run_args.push(format!("$(SKYLOAD_RUN_ARG_{i})"));
    }
    let secret = Object {
        api_version: "v1".into(),
        kind: "Secret".into(),
        metadata: meta(spec, format!("{}-scenario", spec.name), "scenario"),
        body: SecretBody { data },
    };
    let claim = spec.claim.is_none().then(|| Object {
        api_version: "v1".into(),
        kind: "PersistentVolumeClaim".into(),
        metadata: meta(spec, format!("{}-results", spec.name), "results"),
        body: PvcBody {
            spec: PvcSpec {
                access_modes: vec!["ReadWriteMany".into()],
                resources: Resources { requests: [("storage".to_string(), spec.storage.clone())].into() },
                storage_class_name: spec.storage_class.clone(),
            },
        },
    });
    let mut args: Vec<String> = vec![
        "run".into(),
        format!("{SCENARIO_DIR}/{SCENARIO_KEY}"),
        "--shard".into(),
        format!("$(JOB_COMPLETION_INDEX)/{}", spec.shards),
        "--start-at".into(),
        spec.start_at.clone(),
        "--out".into(),
        format!("{RESULTS_DIR}/{}/shard-$(JOB_COMPLETION_INDEX)", spec.run_id),
        "--quiet".into(),
        // Live metrics on every shard pod, scraped through the annotations below; the linger lets
        // the last scrape read the final values before the pod exits.
        "--metrics-listen".into(),
        format!("0.0.0.0:{METRICS_PORT}"),
        "--metrics-linger".into(),
        "30s".into(),
    ];
    args.extend(run_args);
    let shard_container = Container {
        name: "skyload".into(),
        image: spec.image.clone(),
        command: vec!["skyload".into()],
        args,
        // Kubernetes sets it in Indexed Jobs; declared here too so `$(JOB_COMPLETION_INDEX)` expands on any version.
        env: std::iter::once(serde_json::json!({
            "name": "JOB_COMPLETION_INDEX",
            "valueFrom": {"fieldRef": {"fieldPath": "metadata.annotations['batch.kubernetes.io/job-completion-index']"}},
        }))
        .chain(secret_env)
        .collect(),
        volume_mounts: mounts(),
        ports: vec![serde_json::json!({"name": "metrics", "containerPort": METRICS_PORT, "protocol": "TCP"})],
    };
    // A failed shard pod is retried only while the start time is ahead; after it, `skyload run`
    // refuses the late start and the shard stays missing (the merge says so).
    let mut shards = job(spec, format!("{}-shards", spec.name), "shard", (Some("Indexed".into()), spec.shards), shard_container, true);
    shards.body.spec.backoff_limit_per_index = Some(SHARD_RETRIES);
    shards.body.spec.pod_failure_policy = Some(shard_failure_policy());
    shards.body.spec.template.metadata.annotations = [
        ("prometheus.io/scrape".to_string(), "true".to_string()),
        ("prometheus.io/port".to_string(), METRICS_PORT.to_string()),
        ("prometheus.io/path".to_string(), "/metrics".to_string()),
    ]
    .into();
    let merge_container = Container {
        name: "merge".into(),
        image: spec.image.clone(),
        command: vec!["sh".into(), "-c".into(), merge_script(spec)],
        args: Vec::new(),
        env: Vec::new(),
        volume_mounts: mounts(),
        ports: Vec::new(),
    };
    let mut merge = job(spec, format!("{}-merge", spec.name), "merge", (None, 1), merge_container, false);
    merge.body.spec.backoff_limit = Some(2);
    merge.body.spec.pod_failure_policy = Some(merge_failure_policy());
    Manifests { secret, claim, shards, merge }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> Spec {
        Spec {
            name: "skyload".into(),
            namespace: "load".into(),
            image: "registry.example/skyload:1".into(),
            shards: 4,
            start_at: "2026-11-21T10:00:00Z".into(),
            run_id: "quick-20261121T100000Z".into(),
            scenario_text: "name = \"quick\"\n".into(),
            files: vec![("feeder-0".into(), "data/users.csv".into(), "id\n1\n".into())],
            claim: None,
            storage: "1Gi".into(),
            storage_class: None,
            run_args: vec!["--url".into(), "http://gw:8080".into()],
            merge_deadline_unix: 1_795_255_500,
        }
    }

    #[test]
    fn shard_job_runs_its_index_from_the_common_start() {
        let m = build(&spec());
        let j = &m.shards.body.spec;
        assert_eq!((j.completion_mode.as_deref(), j.completions, j.parallelism), (Some("Indexed"), 4, 4));
        let c = &j.template.spec.containers[0];
        let args = c.args.join(" ");
        assert!(args.starts_with("run /scenario/scenario.toml --shard $(JOB_COMPLETION_INDEX)/4 --start-at 2026-11-21T10:00:00Z"), "{args}");
        assert!(args.contains("--out /results/quick-20261121T100000Z/shard-$(JOB_COMPLETION_INDEX)") && args.ends_with("--url http://gw:8080"));
        assert!(args.contains("--metrics-listen 0.0.0.0:9464"), "{args}");
        assert_eq!(c.ports[0]["containerPort"], 9464);
        let ann = &j.template.metadata.annotations;
        assert_eq!((ann["prometheus.io/scrape"].as_str(), ann["prometheus.io/port"].as_str()), ("true", "9464"));
        let items = &j.template.spec.volumes[0].secret.as_ref().unwrap().items;
        assert_eq!(items[1], KeyToPath { key: "feeder-0".into(), path: "data/users.csv".into() });
        assert_eq!(m.claim.as_ref().unwrap().body.spec.access_modes, vec!["ReadWriteMany"]);
        let with_claim = build(&Spec { claim: Some("shared".into()), ..spec() });
        assert!(with_claim.claim.is_none());
        let v = &with_claim.merge.body.spec.template.spec.volumes[1];
        assert_eq!(v.persistent_volume_claim.as_ref().unwrap().claim_name, "shared");
    }

    #[test]
    fn secret_run_args_go_to_the_secret_not_the_job_spec() {
        let s = Spec { run_args: vec!["--url".into(), "http://gw:8080".into(), "-H".into(), "Authorization: Bearer zq-k8s-Hush".into()], ..spec() };
        let m = build(&s);
        let yaml = m.files().unwrap();
        let job = &yaml.iter().find(|(n, _)| n.contains("shard")).unwrap().1;
        assert!(!job.contains("zq-k8s-Hush") && job.contains("$(SKYLOAD_RUN_ARG_3)") && job.contains("run-arg-3"), "{job}");
        assert!(m.secret.body.data["run-arg-3"].contains("zq-k8s-Hush"));
        let c = &m.shards.body.spec.template.spec.containers[0];
        assert!(c.args.ends_with(&["--url".into(), "http://gw:8080".into(), "-H".into(), "$(SKYLOAD_RUN_ARG_3)".into()]), "{:?}", c.args);
        // The secret's env var is declared after the index one, so $(…) expands in args.
        assert_eq!(c.env[1]["valueFrom"]["secretKeyRef"]["key"], "run-arg-3");
    }

    #[test]
    fn merge_waits_for_every_shard_then_merges() {
        let s = merge_script(&spec());
        assert!(s.contains("dir=/results/quick-20261121T100000Z; n=4; deadline=1795255500"), "{s}");
        assert!(s.contains("exec skyload merge \"$@\" --out \"$dir/merged\""));
        let yaml = build(&spec()).files().unwrap();
        assert_eq!(yaml.len(), 4);
        let back: Object<JobBody> = serde_yaml::from_str(&yaml[3].1).unwrap();
        assert_eq!(back, build(&spec()).merge);
        let rules = &build(&spec()).merge.body.spec.pod_failure_policy.unwrap()["rules"];
        assert_eq!(rules[0]["action"], "FailJob");
        assert_eq!(rules[0]["onExitCodes"]["values"], serde_json::json!([1, 2, 3, 4]), "the same inputs give the same answer");
        assert_eq!(rules[0]["onExitCodes"]["containerName"], build(&spec()).merge.body.spec.template.spec.containers[0].name);
    }

    /// A shard that ran (exit 1 or 4) or refused (2) fails its index alone, at once; only a
    /// crash (3) is retried, per shard, so one shard's failures never stop the others.
    #[test]
    fn a_shard_that_ran_or_refused_is_not_retried() {
        let js = build(&spec()).shards.body.spec;
        assert_eq!((js.backoff_limit, js.backoff_limit_per_index), (None, Some(SHARD_RETRIES)));
        let rules = &js.pod_failure_policy.unwrap()["rules"];
        assert_eq!(rules[0]["action"], "FailIndex");
        assert_eq!(rules[0]["onExitCodes"]["values"], serde_json::json!([1, 2, 4]));
        assert_eq!(rules[0]["onExitCodes"]["containerName"], js.template.spec.containers[0].name);
        assert_eq!(rules[1]["onPodConditions"][0]["type"], "DisruptionTarget");
    }

    /// The merge pod's script, run by `sh` against a directory laid out as the volume would be
    /// after an attempt that stopped without a verdict: it merges the finished shard into `merged`
    /// and keeps the earlier attempt's directory under another name instead of failing on it.
    #[cfg(unix)]
    #[test]
    fn a_retried_merge_sets_the_unfinished_attempt_aside() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("run");
        std::fs::create_dir_all(dir.join("shard-0")).unwrap();
        std::fs::write(dir.join("shard-0/summary.json"), "{}").unwrap();
        std::fs::create_dir_all(dir.join("merged")).unwrap();
        std::fs::write(dir.join("merged/partial.txt"), "partial").unwrap();
        // A stand-in `skyload` that records its arguments.
        let bin = tmp.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let fake = bin.join("skyload");
        std::fs::write(&fake, format!("#!/bin/sh\necho \"$@\" > {}/args\n", tmp.path().display())).unwrap();
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        let script = merge_script(&spec()).replace("/results/quick-20261121T100000Z", dir.to_str().unwrap()).replace("deadline=1795255500", "deadline=0");
        let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
        let out = std::process::Command::new("sh").arg("-c").arg(&script).env("PATH", path).output().unwrap();
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{said}{}", String::from_utf8_lossy(&out.stderr));
        assert!(said.contains("earlier merge attempt") && said.contains("merged.attempt-"), "{said}");
        let args = std::fs::read_to_string(tmp.path().join("args")).unwrap();
        assert_eq!(args.trim(), format!("merge {} --out {}", dir.join("shard-0").display(), dir.join("merged").display()));
        let kept: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).filter(|n| n.starts_with("merged.attempt-")).collect();
        assert_eq!(kept.len(), 1, "{kept:?}");
        assert_eq!(std::fs::read_to_string(dir.join(&kept[0]).join("partial.txt")).unwrap(), "partial", "the earlier attempt's files are kept");
        assert!(!dir.join("merged").exists(), "the stand-in wrote nothing: `merged` is left for the real merge to create");
    }
}
