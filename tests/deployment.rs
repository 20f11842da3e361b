//! The deployment files agree with the code: every YAML document under
//! `deploy/kubernetes/` is read and checked against the real config parser,
//! the routes the server answers and each other; the `Dockerfile`'s paths
//! against its config; `wordgate healthcheck` against a running server.
//! No cluster and no container engine are needed (none exists here).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use crate::server::util::{config, shipped, TestServer};
use wordgate::config::{Config, ServeArgs};
use wordgate::healthcheck;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// Every document of every `*.yaml` in `deploy/kubernetes/`, by file.
fn manifests() -> BTreeMap<String, Vec<Value>> {
    let Ok(entries) = std::fs::read_dir(repo("deploy/kubernetes")) else { panic!("deploy/kubernetes") };
    let mut files = BTreeMap::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.ends_with(".yaml") {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(entry.path()) else { panic!("read {name}") };
        let mut documents = Vec::new();
        for document in serde_yaml_ng::Deserializer::from_str(&text) {
            match Value::deserialize(document) {
                Ok(Value::Null) => {}
                Ok(value) => documents.push(value),
                Err(err) => panic!("{name}: {err}"),
            }
        }
        files.insert(name, documents);
    }
    files
}

/// The one object of `kind` named `name`.
fn object<'a>(all: &'a BTreeMap<String, Vec<Value>>, kind: &str, name: &str) -> &'a Value {
    let found: Vec<&Value> =
        all.values().flatten().filter(|doc| doc["kind"] == kind && doc["metadata"]["name"] == name).collect();
    assert_eq!(found.len(), 1, "expected one {kind} {name}, found {}", found.len());
    found[0]
}

fn str_at<'a>(value: &'a Value, pointer: &str) -> &'a str {
    value.pointer(pointer).and_then(Value::as_str).unwrap_or_else(|| panic!("no string at {pointer}"))
}

fn u64_at(value: &Value, pointer: &str) -> u64 {
    value.pointer(pointer).and_then(Value::as_u64).unwrap_or_else(|| panic!("no number at {pointer}"))
}

fn port_of(listen: &str) -> u64 {
    let Some(port) = listen.rsplit_once(':').and_then(|(_, port)| port.parse().ok()) else {
        panic!("no port in {listen}")
    };
    port
}

/// The configuration a replica runs with: the ConfigMap's `wordgate.toml`
/// at the path `WORDGATE_CONFIG` names, plus the Deployment's `WORDGATE_*`
/// variables (a Secret's value stands in as a placeholder), through the
/// real loader, which refuses unknown keys and variables and validates.
fn replica_config(all: &BTreeMap<String, Vec<Value>>, container: &Value) -> Config {
    let toml = str_at(object(all, "ConfigMap", "wordgate-config"), "/data/wordgate.toml");
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("wordgate.toml");
    std::fs::write(&file, toml).expect("write wordgate.toml");
    let mut env = Vec::new();
    for var in container["env"].as_array().into_iter().flatten() {
        let name = str_at(var, "/name");
        assert!(name.starts_with("WORDGATE_"), "{name}: not a wordgate variable");
        let value = match name {
            // Checked against the volume mounts below; here the real file.
            "WORDGATE_CONFIG" => file.display().to_string(),
            _ => var["value"].as_str().unwrap_or("from-a-secret").to_string(),
        };
        env.push((OsString::from(name), OsString::from(value)));
    }
    match Config::load(&ServeArgs::default(), env) {
        Ok(config) => config,
        Err(err) => panic!("the deployed configuration does not load: {err}"),
    }
}

#[test]
fn kubernetes_manifests_agree_with_the_code() {
    let all = manifests();
    let deployment = object(&all, "Deployment", "wordgate");
    let pod = &deployment["spec"]["template"]["spec"];
    let containers = pod["containers"].as_array().expect("containers");
    assert_eq!(containers.len(), 1);
    let container = &containers[0];
    let config = replica_config(&all, container);

    // Ports: the configured listen port is the container port, which the
    // probes and the Service reach by name.
    let port = port_of(&config.listen);
    assert!(config.listen.starts_with("0.0.0.0:"), "a pod must listen on every interface: {}", config.listen);
    let ports = container["ports"].as_array().expect("ports");
    let http = ports.iter().find(|p| p["name"] == "http").expect("a port named http");
    assert_eq!(u64_at(http, "/containerPort"), port);
    let service = object(&all, "Service", "wordgate");
    for service_port in service["spec"]["ports"].as_array().expect("service ports") {
        let target = &service_port["targetPort"];
        assert!(target == "http" || target.as_u64() == Some(port), "Service targetPort {target}");
    }
    let labels = &deployment["spec"]["template"]["metadata"]["labels"];
    let selects_the_pods = |selector: &Value| {
        let selector = selector.as_object().expect("selector");
        !selector.is_empty() && selector.iter().all(|(key, value)| &labels[key] == value)
    };
    assert!(selects_the_pods(&service["spec"]["selector"]));
    assert!(selects_the_pods(&deployment["spec"]["selector"]["matchLabels"]));

    // Probes: the routes they name, over the scheme the server speaks.
    let scheme = if config.tls_files().is_some() { "HTTPS" } else { "HTTP" };
    let mut probed = Vec::new();
    for (probe, path) in
        [("startupProbe", "/healthz"), ("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")]
    {
        let get = &container[probe]["httpGet"];
        assert_eq!(str_at(get, "/path"), path, "{probe}");
        assert!(get["port"] == "http" || get["port"].as_u64() == Some(port), "{probe} port {}", get["port"]);
        assert_eq!(get["scheme"].as_str().unwrap_or("HTTP"), scheme, "{probe} scheme");
        probed.push(path);
    }
    assert_probe_paths_are_served(&probed);

    // Mounts: whole directories (a subPath mount never sees the kubelet's
    // `..data` swap), at the paths the configuration names.
    let mounts = container["volumeMounts"].as_array().expect("volumeMounts");
    let volumes = pod["volumes"].as_array().expect("volumes");
    let mount_of = |source: &str, name: &str| -> PathBuf {
        let volume = volumes
            .iter()
            .find(|v| v[source]["name"] == name || v[source]["secretName"] == name)
            .unwrap_or_else(|| panic!("no volume from {source} {name}"));
        let mount = mounts.iter().find(|m| m["name"] == volume["name"]).expect("the volume is mounted");
        assert!(mount.get("subPath").is_none(), "{name} is mounted with subPath");
        PathBuf::from(str_at(mount, "/mountPath"))
    };
    assert_eq!(mount_of("configMap", "wordgate-dictionaries"), config.dictionaries);
    let config_var =
        container["env"].as_array().into_iter().flatten().find(|v| v["name"] == "WORDGATE_CONFIG");
    let config_path = PathBuf::from(str_at(config_var.expect("WORDGATE_CONFIG"), "/value"));
    assert_eq!(config_path.parent(), Some(mount_of("configMap", "wordgate-config").as_path()));
    assert_eq!(config_path.file_name().and_then(|n| n.to_str()), Some("wordgate.toml"));
    if let Some((cert, key)) = config.tls_files() {
        let tls_dir = mount_of("secret", "wordgate-tls");
        assert_eq!(cert.parent(), Some(tls_dir.as_path()));
        assert_eq!(key.parent(), Some(tls_dir.as_path()));
        let secret = object(&all, "Secret", "wordgate-tls");
        assert_eq!(secret["type"], "kubernetes.io/tls");
        for file in [cert, key] {
            let name = file.file_name().and_then(|n| n.to_str()).expect("file name");
            assert!(secret["stringData"].get(name).is_some() || secret["data"].get(name).is_some(), "{name}");
        }
    }
    for var in container["env"].as_array().into_iter().flatten() {
        if let Some(reference) = var.pointer("/valueFrom/secretKeyRef") {
            let secret = object(&all, "Secret", str_at(reference, "/name"));
            let key = str_at(reference, "/key");
            assert!(secret["stringData"].get(key).is_some() || secret["data"].get(key).is_some(), "{key}");
        }
    }

    // Shutdown: endpoints go first (preStop), then the drain, all inside
    // the grace period.
    let grace = u64_at(pod, "/terminationGracePeriodSeconds");
    let pre_stop = u64_at(container, "/lifecycle/preStop/sleep/seconds");
    assert!(pre_stop >= 1);
    assert!(
        grace > pre_stop + config.shutdown_timeout_secs,
        "terminationGracePeriodSeconds {grace} <= preStop {pre_stop} + shutdown_timeout_secs {}",
        config.shutdown_timeout_secs
    );

    // Non-root, read-only root filesystem (wordgate writes nothing).
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(container["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(container["securityContext"]["allowPrivilegeEscalation"], false);
    assert_eq!(str_at(container, "/resources/requests/memory"), "128Mi");
    assert_eq!(str_at(container, "/resources/limits/memory"), "256Mi");
    assert_eq!(str_at(container, "/resources/requests/cpu"), "250m");

    // Scaling and disruptions target these pods.
    let hpa = object(&all, "HorizontalPodAutoscaler", "wordgate");
    assert_eq!(hpa["apiVersion"], "autoscaling/v2");
    assert_eq!(str_at(hpa, "/spec/scaleTargetRef/kind"), "Deployment");
    assert_eq!(str_at(hpa, "/spec/scaleTargetRef/name"), "wordgate");
    assert_eq!(u64_at(hpa, "/spec/minReplicas"), u64_at(deployment, "/spec/replicas"));
    let pdb = object(&all, "PodDisruptionBudget", "wordgate");
    assert!(selects_the_pods(&pdb["spec"]["selector"]["matchLabels"]));
}

/// The probes' paths answer 200 on a real server.
fn assert_probe_paths_are_served(paths: &[&str]) {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
        panic!("runtime")
    };
    runtime.block_on(async {
        let server = TestServer::start(config(&shipped())).await;
        for path in paths {
            let response = server.connect().await.get(path).await;
            assert_eq!(response.status, 200, "{path}: {}", response.text());
        }
    });
}

#[test]
fn kustomization_lists_every_manifest() {
    let all = manifests();
    let kustomization = all.get("kustomization.yaml").and_then(|docs| docs.first()).expect("kustomization");
    let mut listed: Vec<&str> =
        kustomization["resources"].as_array().expect("resources").iter().filter_map(Value::as_str).collect();
    listed.sort_unstable();
    let files: Vec<&str> =
        all.keys().map(String::as_str).filter(|name| *name != "kustomization.yaml").collect();
    assert_eq!(listed, files);
}

#[test]
fn the_dictionaries_configmap_is_the_shipped_set_and_compiles() {
    let all = manifests();
    let data = object(&all, "ConfigMap", "wordgate-dictionaries")["data"].as_object().expect("data").clone();
    let dir = tempfile::tempdir().expect("tempdir");
    let Ok(shipped_files) = std::fs::read_dir(shipped()) else { panic!("dictionaries/") };
    let mut shipped_names = Vec::new();
    for entry in shipped_files.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".txt") {
            let text = std::fs::read_to_string(entry.path()).expect("read dictionary");
            assert_eq!(data.get(&name).and_then(Value::as_str), Some(text.as_str()), "{name} differs");
            shipped_names.push(name);
        }
    }
    shipped_names.sort();
    let listed: Vec<&String> = data.keys().collect();
    assert_eq!(listed, shipped_names.iter().collect::<Vec<_>>());
    for (name, text) in &data {
        std::fs::write(dir.path().join(name), text.as_str().unwrap_or_default()).expect("write");
    }
    let validated = wordgate::cli::validate(dir.path());
    assert!(validated.is_ok(), "{validated:?}");
}

#[test]
fn dockerfile_paths_agree_with_its_config() {
    let Ok(dockerfile) = std::fs::read_to_string(repo("Dockerfile")) else { panic!("Dockerfile") };
    let mut copies = BTreeMap::new();
    let mut env = BTreeMap::new();
    let (mut expose, mut stop_signal, mut healthcheck, mut user) = (None, None, None, None);
    let mut runtime_stage = false;
    for line in dockerfile.lines().map(str::trim) {
        let mut words = line.split_whitespace();
        match words.next() {
            Some("FROM") => runtime_stage = line.contains("distroless"),
            Some("COPY") if runtime_stage && !line.contains("--from") => {
                let args: Vec<&str> = words.collect();
                copies.insert(
                    args[0].trim_end_matches('/').to_string(),
                    args[1].trim_end_matches('/').to_string(),
                );
            }
            Some("ENV") => {
                for pair in words {
                    if let Some((name, value)) = pair.split_once('=') {
                        env.insert(name.to_string(), value.to_string());
                    }
                }
            }
            Some("EXPOSE") => expose = words.next().and_then(|p| p.parse::<u64>().ok()),
            Some("STOPSIGNAL") => stop_signal = words.next().map(str::to_string),
            Some("USER") => user = words.next().map(str::to_string),
            Some("CMD") if line.contains("healthcheck") => healthcheck = Some(line.to_string()),
            _ => {}
        }
    }
    let config_in_image = env.get("WORDGATE_CONFIG").expect("ENV WORDGATE_CONFIG");
    let (config_source, _) =
        copies.iter().find(|(_, dest)| *dest == config_in_image).expect("the config file is copied in");
    let config = match Config::from_file(&repo(config_source)) {
        Ok(config) => config,
        Err(err) => panic!("{err}"),
    };
    assert_eq!(copies.get("dictionaries").map(PathBuf::from), Some(config.dictionaries.clone()));
    assert_eq!(expose, Some(port_of(&config.listen)));
    assert_eq!(stop_signal.as_deref(), Some("SIGTERM"));
    assert!(user.is_some_and(|u| !u.starts_with('0') && u != "root"));
    // The probe finds the port from the image's configuration.
    let healthcheck = healthcheck.expect("a HEALTHCHECK running `wordgate healthcheck`");
    assert!(!healthcheck.contains("--url"), "{healthcheck}");
    let probed = healthcheck::url_for(&config);
    assert_eq!(probed, format!("http://127.0.0.1:{}/healthz", port_of(&config.listen)));
    // With the SDKAppID the image needs from the environment, it validates.
    let config = Config { sdkappid: vec![1400000000], ..config };
    assert!(config.validate().is_ok());

    // The Kubernetes ConfigMap puts the dictionaries where the image does,
    // so either configuration works with either layout.
    let all = manifests();
    let toml = str_at(object(&all, "ConfigMap", "wordgate-config"), "/data/wordgate.toml");
    let deployed = Config::from_toml(toml).map(|c| c.dictionaries);
    assert_eq!(deployed.ok(), Some(config.dictionaries));
}

#[tokio::test]
async fn healthcheck_command_probes_a_running_server() {
    let server = TestServer::start(config(&shipped())).await;
    let base = format!("http://{}", server.addr);
    let probe =
        |url: String| tokio::task::spawn_blocking(move || healthcheck::probe(&url, healthcheck::TIMEOUT));
    let healthy = probe(format!("{base}/healthz")).await.expect("probe task");
    assert!(healthy.as_ref().is_ok_and(|line| line.starts_with("HTTP/1.1 200")), "{healthy:?}");
    let missing = probe(format!("{base}/nope")).await.expect("probe task");
    assert!(missing.as_ref().is_err_and(|err| err.contains("404")), "{missing:?}");

    // The binary: exit 0 when healthy, 1 when not.
    let run = |url: String| {
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_wordgate"))
                .args(["healthcheck", "--url", &url])
                .output()
        })
    };
    // Without --url, from the configuration `serve` would read: here the
    // environment names this server's port.
    let listen = server.addr.to_string();
    let from_config = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_wordgate"))
            .arg("healthcheck")
            .env("WORDGATE_LISTEN", &listen)
            .env("WORDGATE_SDKAPPID", "1400000000")
            .env_remove("WORDGATE_CONFIG")
            .output()
    });
    let Ok(Ok(derived)) = from_config.await else { panic!("run wordgate healthcheck") };
    assert_eq!(derived.status.code(), Some(0), "{}", String::from_utf8_lossy(&derived.stderr));
    // A configuration that does not load is unhealthy, and says why.
    let broken = tokio::task::spawn_blocking(|| {
        std::process::Command::new(env!("CARGO_BIN_EXE_wordgate"))
            .arg("healthcheck")
            .env("WORDGATE_LISTEN", "127.0.0.1:1")
            .env_remove("WORDGATE_SDKAPPID")
            .env_remove("WORDGATE_CONFIG")
            .output()
    });
    let Ok(Ok(broken)) = broken.await else { panic!("run wordgate healthcheck") };
    assert_eq!(broken.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&broken.stderr).contains("configuration"), "{broken:?}");
    let Ok(Ok(ok)) = run(format!("{base}/healthz")).await else { panic!("run wordgate healthcheck") };
    assert_eq!(ok.status.code(), Some(0), "{}", String::from_utf8_lossy(&ok.stderr));
    let Ok(Ok(bad)) = run(format!("{base}/nope")).await else { panic!("run wordgate healthcheck") };
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unhealthy"));
}
