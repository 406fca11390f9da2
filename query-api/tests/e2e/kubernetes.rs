//! deploy/k8s (issue 19) against real tools: kubeconform validates every manifest, strictly,
//! against the Kubernetes 1.33 schemas (`scripts/test.sh` installs both), and the
//! manifests' shape is checked: each service a Deployment with both probes, resource
//! requests, its config from the ConfigMap, no password in a manifest, and a
//! PodDisruptionBudget; every file in the kustomization.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

const SERVICES: [&str; 5] = [
    "command-service",
    "projector",
    "query-api",
    "notifier",
    "fulfilment",
];

fn k8s_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/k8s")
}

/// kubeconform's summary line for `paths`, and whether it passed; `None` (skipped, said)
/// outside `scripts/test.sh`.
fn kubeconform(paths: &[&Path]) -> Option<(bool, String)> {
    let binary = orderflow_testkit::installed_tool("ORDERFLOW_KUBECONFORM")?;
    let schemas = orderflow_testkit::installed_tool("ORDERFLOW_K8S_SCHEMAS")?;
    let out = Command::new(binary)
        .args(["-strict", "-summary", "-schema-location"])
        .arg(format!(
            "{schemas}/{{{{ .ResourceKind }}}}{{{{ .KindSuffix }}}}.json"
        ))
        .args([
            "-ignore-filename-pattern",
            "kustomization.yaml",
            "-ignore-filename-pattern",
            "README.md",
        ])
        .args(paths)
        .output()
        .expect("kubeconform runs");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    Some((out.status.success(), text))
}

#[test]
fn every_manifest_is_valid_kubernetes_and_a_broken_one_is_caught() {
    let Some((passed, report)) = kubeconform(&[&k8s_dir()]) else {
        return eprintln!("SKIPPED: ORDERFLOW_KUBECONFORM is not set (scripts/test.sh sets it)");
    };
    assert!(passed, "{report}");
    assert!(report.contains("Invalid: 0, Errors: 0"), "{report}");
    assert!(
        report.contains("Valid: 17"),
        "a Deployment, Service and PDB per service: {report}"
    );
    // The check can fail: a misspelt field of a pod's security context is refused.
    let broken =
        std::env::temp_dir().join(format!("orderflow-broken-{}.yaml", uuid::Uuid::new_v4()));
    let text = std::fs::read_to_string(k8s_dir().join("projector.yaml")).unwrap();
    std::fs::write(&broken, text.replace("runAsNonRoot", "runAsNonroot")).unwrap();
    let (passed, report) = kubeconform(&[&broken]).unwrap();
    std::fs::remove_file(&broken).unwrap();
    assert!(!passed && report.contains("runAsNonroot"), "{report}");
}

/// Every document of every YAML file of deploy/k8s, as JSON (through the suite's Python,
/// whose PyYAML reads YAML), by file name.
fn documents() -> Option<Vec<(String, Value)>> {
    let python = orderflow_testkit::installed_tool("ORDERFLOW_PYTHON")?;
    let script = "import json, pathlib, sys, yaml\n\
        print(json.dumps([[p.name, d] for p in sorted(pathlib.Path(sys.argv[1]).glob('*.yaml')) \
        for d in yaml.safe_load_all(p.read_text()) if d]))";
    let out = Command::new(python)
        .args(["-c", script])
        .arg(k8s_dir())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(serde_json::from_slice(&out.stdout).unwrap())
}

#[test]
fn each_service_is_probed_budgeted_configured_and_listed() {
    let Some(documents) = documents() else {
        return eprintln!("SKIPPED: ORDERFLOW_PYTHON is not set (scripts/test.sh sets it)");
    };
    let of = |kind: &str, name: &str| {
        documents
            .iter()
            .find(|(_, d)| d["kind"] == kind && d["metadata"]["name"] == name)
            .map(|(f, d)| (f.clone(), d.clone()))
    };
    let (_, kustomization) = documents
        .iter()
        .find(|(_, d)| d["kind"] == "Kustomization")
        .expect("a kustomization");
    let listed: Vec<&str> = kustomization["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for service in SERVICES {
        let (file, deployment) =
            of("Deployment", service).unwrap_or_else(|| panic!("no Deployment {service}"));
        let container = &deployment["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(
            container["readinessProbe"]["httpGet"]["path"], "/readyz",
            "{service}"
        );
        assert_eq!(
            container["livenessProbe"]["httpGet"]["path"], "/healthz",
            "{service}"
        );
        assert!(
            container["resources"]["requests"]["cpu"].is_string(),
            "{service}"
        );
        assert!(
            container["resources"]["requests"]["memory"].is_string(),
            "{service}"
        );
        assert_eq!(
            container["envFrom"][0]["configMapRef"]["name"], "orderflow-config",
            "{service}"
        );
        for env in container["env"].as_array().unwrap() {
            let secret = env["valueFrom"]["secretKeyRef"]["name"] == "orderflow-secrets";
            let value = env["value"].as_str().unwrap_or_default();
            assert!(
                secret || !value.contains('@'),
                "{service}: {env} looks like a credential"
            );
        }
        let (_, budget) =
            of("PodDisruptionBudget", service).unwrap_or_else(|| panic!("no PDB {service}"));
        let labels = &deployment["spec"]["template"]["metadata"]["labels"];
        for (key, value) in budget["spec"]["selector"]["matchLabels"]
            .as_object()
            .unwrap()
        {
            assert_eq!(&labels[key], value, "{service}'s PDB selects its pods");
        }
        assert!(
            listed.contains(&file.as_str()),
            "{file} is not in the kustomization"
        );
    }
}
