//! The operator assets agree with the code. Every metric the Grafana
//! dashboard (`deploy/grafana/wordgate.json`) and the Prometheus alert rules
//! (`deploy/prometheus/wordgate-rules.yml`) query is one a running server
//! exports on `GET /metrics`, with label values it exports; every exported
//! family is on a dashboard panel; the PrometheusRule in
//! `deploy/kubernetes/monitoring/` carries the rules file's groups unchanged;
//! every alert is documented and has a firing promtool unit test.
//!
//! PromQL is not parsed here (`scripts/check-alert-rules.sh` runs promtool on
//! the rules and their unit tests): metric names are found lexically, which
//! is enough to catch a renamed, removed or misspelt metric or label value.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::server::util::{config, dictionaries, TestServer};

const DASHBOARD: &str = "deploy/grafana/wordgate.json";
const RULES: &str = "deploy/prometheus/wordgate-rules.yml";
const RULE_TESTS: &str = "deploy/prometheus/wordgate-rules.test.yml";
const PROMETHEUS_RULE: &str = "deploy/kubernetes/monitoring/prometheusrule.yaml";
const DOCS: &str = "docs/operators.md";

/// Labels Prometheus attaches to every scraped series; not in `/metrics`.
const TARGET_LABELS: [&str; 2] = ["job", "instance"];

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo(path)).unwrap_or_else(|err| panic!("{path}: {err}"))
}

fn json(path: &str) -> Value {
    serde_json::from_str(&read(path)).unwrap_or_else(|err| panic!("{path}: {err}"))
}

/// A single-document YAML file.
fn yaml(path: &str) -> Value {
    serde_yaml_ng::from_str(&read(path)).unwrap_or_else(|err| panic!("{path}: {err}"))
}

fn str_of<'a>(value: &'a Value, key: &str, place: &str) -> &'a str {
    value.get(key).and_then(Value::as_str).unwrap_or_else(|| panic!("{place}: no string `{key}`"))
}

fn array_of<'a>(value: &'a Value, key: &str, place: &str) -> &'a [Value] {
    value
        .get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_else(|| panic!("{place}: no `{key}`"))
}

// ---- What the server exports ----

/// What `GET /metrics` exports.
struct Exported {
    /// Family name (from `# TYPE name kind`) → kind.
    families: BTreeMap<String, String>,
    /// Sample name → its family: a family's own name, or a histogram's
    /// `_bucket`, `_sum` and `_count`.
    samples: BTreeMap<String, String>,
    /// Sample name → every `label="value"` pair written on it.
    labels: BTreeMap<String, BTreeSet<(String, String)>>,
}

impl Exported {
    /// The sample names of `family`.
    fn samples_of<'a>(&'a self, family: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.samples.iter().filter(move |(_, of)| *of == family).map(|(sample, _)| sample.as_str())
    }
}

/// Starts a real server, asks it for `/metrics` and reads the exposition.
async fn exported() -> Exported {
    let dir = dictionaries(&[("a.txt", "@action reject\nfoo\n")]);
    let server = TestServer::start(config(dir.path())).await;
    let response = server.connect().await.get("/metrics").await;
    assert_eq!(response.status, 200, "{}", response.text());
    let exported = parse_exposition(&response.text());
    server.stop().await;
    exported
}

fn parse_exposition(text: &str) -> Exported {
    let mut families = BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap_or_else(|| panic!("TYPE name kind: {line}"));
            families.insert(name.to_string(), kind.to_string());
        }
    }
    let mut samples = BTreeMap::new();
    for (family, kind) in &families {
        let names = match kind.as_str() {
            "histogram" => {
                vec![format!("{family}_bucket"), format!("{family}_sum"), format!("{family}_count")]
            }
            "counter" | "gauge" => vec![family.clone()],
            other => panic!("{family}: a {other}, which this test does not know how to chart"),
        };
        for name in names {
            samples.insert(name, family.clone());
        }
    }
    let mut labels: BTreeMap<String, BTreeSet<(String, String)>> = BTreeMap::new();
    for line in text.lines().filter(|line| !line.is_empty() && !line.starts_with('#')) {
        let (series, _value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("sample line: {line}"));
        let (name, pairs) = match series.split_once('{') {
            Some((name, rest)) => (name, matchers(rest.strip_suffix('}').unwrap_or(rest))),
            None => (series, Vec::new()),
        };
        assert!(samples.contains_key(name), "{line}: a sample of no family with a # TYPE");
        let seen = labels.entry(name.to_string()).or_default();
        seen.extend(pairs.into_iter().map(|(label, _, value)| (label, value)));
    }
    for (sample, family) in &samples {
        assert!(labels.contains_key(sample), "# TYPE {family} but no {sample} sample");
    }
    Exported { families, samples, labels }
}

// ---- What the dashboard and the rules query ----

/// A PromQL expression and where it was found.
struct Query {
    place: String,
    expr: String,
}

/// A metric an expression names, with the `label="value"` matchers written
/// right after it.
struct MetricRef {
    name: String,
    equals: Vec<(String, String)>,
}

fn is_identifier(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == ':'
}

/// Every identifier in `expr` that starts with `wordgate_`.
fn metric_refs(expr: &str) -> Vec<MetricRef> {
    let mut refs = Vec::new();
    let mut at = 0;
    while let Some(found) = expr[at..].find("wordgate_") {
        let start = at + found;
        let preceded = expr[..start].chars().next_back().is_some_and(is_identifier);
        let end = expr[start..].find(|c: char| !is_identifier(c)).map_or(expr.len(), |len| start + len);
        at = end;
        if preceded {
            continue;
        }
        let mut equals = Vec::new();
        if let Some(inside) = expr[end..].strip_prefix('{') {
            let close = closing_brace(inside).unwrap_or_else(|| panic!("unclosed selector in {expr}"));
            equals = matchers(&inside[..close])
                .into_iter()
                .filter(|(_, op, _)| op == "=")
                .map(|(label, _, value)| (label, value))
                .collect();
        }
        refs.push(MetricRef { name: expr[start..end].to_string(), equals });
    }
    refs
}

/// Where the `}` closing a selector is, outside quoted values.
fn closing_brace(inside: &str) -> Option<usize> {
    let mut quoted = false;
    let mut escaped = false;
    for (at, c) in inside.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '}' if !quoted => return Some(at),
            _ => {}
        }
    }
    None
}

/// `a="x",b=~"y"` (a selector's or a sample's labels) → (label, op, value).
fn matchers(text: &str) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        let label_end = rest.find(|c: char| !is_identifier(c)).unwrap_or(rest.len());
        let label = rest[..label_end].to_string();
        let after = rest[label_end..].trim_start();
        let op_len = after.find('"').unwrap_or_else(|| panic!("no quoted value in {text}"));
        let op = after[..op_len].trim().to_string();
        let value_and_rest = &after[op_len + 1..];
        let mut value = String::new();
        let mut chars = value_and_rest.char_indices();
        let mut end = value_and_rest.len();
        while let Some((at, c)) = chars.next() {
            match c {
                '\\' => value.extend(chars.next().map(|(_, c)| c)),
                '"' => {
                    end = at + 1;
                    break;
                }
                _ => value.push(c),
            }
        }
        assert!(!label.is_empty() && !op.is_empty(), "matcher in {text}");
        out.push((label, op, value));
        rest = value_and_rest[end..].trim_start().trim_start_matches(',').trim_start();
    }
    out
}

/// Every panel, including those inside rows, depth first.
fn panels(dashboard: &Value) -> Vec<&Value> {
    fn walk<'a>(list: &'a [Value], out: &mut Vec<&'a Value>) {
        for panel in list {
            out.push(panel);
            if let Some(inner) = panel.get("panels").and_then(Value::as_array) {
                walk(inner, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(array_of(dashboard, "panels", DASHBOARD), &mut out);
    out
}

fn panel_name(panel: &Value) -> String {
    let title = panel.get("title").and_then(Value::as_str).unwrap_or("?");
    let id = panel.get("id").map(Value::to_string).unwrap_or_default();
    format!("{DASHBOARD}: panel {id} \"{title}\"")
}

/// The queries of the dashboard's panels.
fn panel_queries(dashboard: &Value) -> Vec<Query> {
    let mut queries = Vec::new();
    for panel in panels(dashboard) {
        for target in panel.get("targets").and_then(Value::as_array).into_iter().flatten() {
            let place = format!("{} target {}", panel_name(panel), target["refId"]);
            queries.push(Query { expr: str_of(target, "expr", &place).to_string(), place });
        }
    }
    queries
}

/// Every query in the dashboard: every `expr` anywhere (panel targets,
/// annotations) and the template variables' queries.
fn dashboard_queries(dashboard: &Value) -> Vec<Query> {
    fn walk(value: &Value, path: &str, out: &mut Vec<Query>) {
        match value {
            Value::Object(map) => {
                for (key, inner) in map {
                    let path = format!("{path}/{key}");
                    match (key.as_str(), inner) {
                        ("expr", Value::String(expr)) => out.push(Query { place: path, expr: expr.clone() }),
                        _ => walk(inner, &path, out),
                    }
                }
            }
            Value::Array(list) => {
                for (at, inner) in list.iter().enumerate() {
                    walk(inner, &format!("{path}/{at}"), out);
                }
            }
            _ => {}
        }
    }
    let mut queries = Vec::new();
    walk(dashboard, DASHBOARD, &mut queries);
    let variables = dashboard.pointer("/templating/list").and_then(Value::as_array).into_iter().flatten();
    // A `datasource` variable's query is a plugin type, not PromQL.
    for variable in variables.filter(|variable| variable["type"] == "query") {
        let place = format!("{DASHBOARD}: variable {}", variable["name"]);
        for key in ["query", "definition"] {
            let expr = match &variable[key] {
                Value::String(expr) => expr,
                Value::Object(query) => match query.get("query") {
                    Some(Value::String(expr)) => expr,
                    _ => continue,
                },
                _ => continue,
            };
            queries.push(Query { place: format!("{place} {key}"), expr: expr.clone() });
        }
    }
    queries
}

/// Every rule of a rules file's `groups`.
fn rules_of(groups: &Value) -> Vec<&Value> {
    let groups = groups.as_array().unwrap_or_else(|| panic!("{RULES}: `groups` is not a list"));
    groups.iter().flat_map(|group| array_of(group, "rules", RULES)).collect()
}

fn rule_queries(rules: &Value) -> Vec<Query> {
    rules_of(&rules["groups"])
        .into_iter()
        .map(|rule| {
            let name =
                rule.get("alert").or_else(|| rule.get("record")).and_then(Value::as_str).unwrap_or("?");
            let place = format!("{RULES}: {name}");
            Query { expr: str_of(rule, "expr", &place).to_string(), place }
        })
        .collect()
}

// ---- The tests ----

#[tokio::test]
async fn dashboard_and_alert_rules_query_only_exported_metrics() {
    let exported = exported().await;
    let dashboard = json(DASHBOARD);
    let mut queries = dashboard_queries(&dashboard);
    let on_the_dashboard = queries.len();
    queries.extend(rule_queries(&yaml(RULES)));
    assert!(on_the_dashboard > 20 && queries.len() > on_the_dashboard, "{} queries found", queries.len());

    let mut unknown = Vec::new();
    for query in &queries {
        let refs = metric_refs(&query.expr);
        if query.place.starts_with(DASHBOARD) && refs.is_empty() {
            unknown.push(format!("{}: queries no wordgate_ metric: {}", query.place, query.expr));
        }
        for MetricRef { name, equals } in refs {
            let Some(written) = exported.labels.get(&name) else {
                unknown.push(format!("{}: {name}", query.place));
                continue;
            };
            for (label, value) in
                equals.into_iter().filter(|(label, _)| !TARGET_LABELS.contains(&label.as_str()))
            {
                if !written.contains(&(label.clone(), value.clone())) {
                    unknown.push(format!("{}: {name}{{{label}=\"{value}\"}}", query.place));
                }
            }
        }
    }
    assert!(
        unknown.is_empty(),
        "queried but not exported by GET /metrics (exported: {:?}):\n  {}",
        exported.samples.keys().collect::<Vec<_>>(),
        unknown.join("\n  ")
    );
}

#[tokio::test]
async fn every_exported_metric_is_on_a_dashboard_panel() {
    let exported = exported().await;
    let charted: BTreeSet<String> = panel_queries(&json(DASHBOARD))
        .iter()
        .flat_map(|query| metric_refs(&query.expr))
        .map(|found| found.name)
        .collect();
    let mut missing = Vec::new();
    for (family, kind) in &exported.families {
        if !exported.samples_of(family).any(|sample| charted.contains(sample)) {
            missing.push(format!("{family} ({kind})"));
        }
        // Quantiles need the buckets, not just the mean.
        if kind == "histogram" && !charted.contains(&format!("{family}_bucket")) {
            missing.push(format!("{family}_bucket (the histogram's quantiles)"));
        }
    }
    assert!(missing.is_empty(), "exported but on no panel of {DASHBOARD}:\n  {}", missing.join("\n  "));
}

#[test]
fn dashboard_is_importable() {
    let dashboard = json(DASHBOARD);
    let schema = dashboard["schemaVersion"].as_u64().expect("schemaVersion");
    assert!((36..=41).contains(&schema), "schemaVersion {schema}");
    assert!(!str_of(&dashboard, "uid", DASHBOARD).is_empty());
    assert!(!str_of(&dashboard, "title", DASHBOARD).is_empty());

    let variables = dashboard.pointer("/templating/list").and_then(Value::as_array).expect("templating.list");
    let variable = |name: &str| {
        variables.iter().find(|v| v["name"] == name).unwrap_or_else(|| panic!("no ${name} variable"))
    };
    let source = variable("DS_PROMETHEUS");
    assert_eq!((&source["type"], &source["query"]), (&Value::from("datasource"), &Value::from("prometheus")));
    for name in ["job", "instance"] {
        assert_eq!(variable(name)["type"], "query", "${name}");
        assert_eq!(variable(name)["datasource"]["uid"], "${DS_PROMETHEUS}", "${name}");
    }

    let mut ids = BTreeSet::new();
    for panel in panels(&dashboard) {
        let name = panel_name(panel);
        let id = panel["id"].as_u64().unwrap_or_else(|| panic!("{name}: no id"));
        assert!(ids.insert(id), "{name}: id {id} used twice");
        let grid = &panel["gridPos"];
        let (x, w) = (grid["x"].as_u64().unwrap_or(99), grid["w"].as_u64().unwrap_or(99));
        assert!(
            x + w <= 24 && grid["h"].as_u64().is_some() && grid["y"].as_u64().is_some(),
            "{name}: {grid}"
        );
        if panel["type"] == "row" {
            continue;
        }
        assert!(!str_of(panel, "title", &name).is_empty());
        assert!(!str_of(panel, "description", &name).is_empty(), "{name}: say what it shows");
        assert_eq!(panel["datasource"]["uid"], "${DS_PROMETHEUS}", "{name}");
        let targets = array_of(panel, "targets", &name);
        assert!(!targets.is_empty(), "{name}: no query");
        let mut refs = BTreeSet::new();
        for target in targets {
            assert!(refs.insert(str_of(target, "refId", &name)), "{name}: refId used twice");
            assert!(!str_of(target, "expr", &name).trim().is_empty(), "{name}: empty expr");
            assert_eq!(target["datasource"]["uid"], "${DS_PROMETHEUS}", "{name}");
        }
    }
}

#[test]
fn alert_rules_are_complete_documented_and_unit_tested() {
    let rules = yaml(RULES);
    let docs = read(DOCS);
    let tests = yaml(RULE_TESTS);
    assert!(
        array_of(&tests, "rule_files", RULE_TESTS).iter().any(|file| file == "wordgate-rules.yml"),
        "{RULE_TESTS} must test {RULES}"
    );
    let fired: BTreeSet<&str> = array_of(&tests, "tests", RULE_TESTS)
        .iter()
        .flat_map(|test| array_of(test, "alert_rule_test", RULE_TESTS))
        .filter(|case| case["exp_alerts"].as_array().is_some_and(|alerts| !alerts.is_empty()))
        .map(|case| str_of(case, "alertname", RULE_TESTS))
        .collect();

    let mut names = BTreeSet::new();
    let mut problems = Vec::new();
    for group in array_of(&rules, "groups", RULES) {
        let group_name = str_of(group, "name", RULES);
        assert!(!array_of(group, "rules", group_name).is_empty(), "{group_name}: no rules");
    }
    for rule in rules_of(&rules["groups"]) {
        let alert = str_of(rule, "alert", RULES);
        let place = format!("{RULES}: {alert}");
        assert!(names.insert(alert), "{place}: named twice");
        assert!(alert.starts_with("Wordgate"), "{place}: alerts are named Wordgate*");
        let wait = str_of(rule, "for", &place);
        let well_formed = wait.len() > 1
            && wait[..wait.len() - 1].chars().all(|c| c.is_ascii_digit())
            && wait.ends_with(['s', 'm', 'h']);
        assert!(well_formed, "{place}: for: {wait}");
        let severity = rule.pointer("/labels/severity").and_then(Value::as_str);
        assert!(matches!(severity, Some("warning" | "critical")), "{place}: severity {severity:?}");
        for key in ["summary", "description"] {
            let text = rule.pointer(&format!("/annotations/{key}")).and_then(Value::as_str).unwrap_or("");
            assert!(!text.trim().is_empty(), "{place}: no annotations.{key}");
        }
        if !docs.contains(alert) {
            problems.push(format!("{alert}: not described in {DOCS}"));
        }
        if !fired.contains(alert) {
            problems.push(format!("{alert}: no test in {RULE_TESTS} expects it to fire"));
        }
    }
    for alert in fired.iter().filter(|alert| !names.contains(*alert)) {
        problems.push(format!("{RULE_TESTS} tests {alert}, which {RULES} does not define"));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn prometheus_rule_carries_the_rules_file() {
    let rule = yaml(PROMETHEUS_RULE);
    assert_eq!(rule["apiVersion"], "monitoring.coreos.com/v1", "{PROMETHEUS_RULE}");
    assert_eq!(rule["kind"], "PrometheusRule", "{PROMETHEUS_RULE}");
    assert!(rule.pointer("/metadata/name").and_then(Value::as_str).is_some_and(|n| !n.is_empty()));
    let groups = &yaml(RULES)["groups"];
    let carried = &rule["spec"]["groups"];
    if carried != groups {
        let alerts = |groups: &Value| -> Vec<String> {
            rules_of(groups)
                .into_iter()
                .map(|rule| rule["alert"].as_str().unwrap_or("?").to_string())
                .collect()
        };
        let first = rules_of(carried)
            .into_iter()
            .zip(rules_of(groups))
            .find(|(carried, file)| carried != file)
            .map(|(carried, file)| format!("\n  {PROMETHEUS_RULE}: {carried}\n  {RULES}: {file}"))
            .unwrap_or_default();
        panic!(
            "{PROMETHEUS_RULE}'s spec.groups differ from {RULES}'s groups; alerts {:?} vs {:?}{first}",
            alerts(carried),
            alerts(groups)
        );
    }

    // The monitoring kustomization lists exactly the manifests beside it;
    // the main one stays applicable without the CRD.
    let kustomization = yaml("deploy/kubernetes/monitoring/kustomization.yaml");
    let listed: BTreeSet<String> = array_of(&kustomization, "resources", "monitoring/kustomization.yaml")
        .iter()
        .map(|resource| resource.as_str().expect("resource path").to_string())
        .collect();
    let entries =
        std::fs::read_dir(repo("deploy/kubernetes/monitoring")).expect("deploy/kubernetes/monitoring");
    let present: BTreeSet<String> = entries
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".yaml") && name != "kustomization.yaml")
        .collect();
    assert_eq!(listed, present, "deploy/kubernetes/monitoring/kustomization.yaml resources");
    let main = yaml("deploy/kubernetes/kustomization.yaml");
    for resource in array_of(&main, "resources", "deploy/kubernetes/kustomization.yaml") {
        let resource = resource.as_str().unwrap_or_default();
        assert!(!resource.contains("monitoring"), "deploy/kubernetes/kustomization.yaml lists {resource}");
    }
}

#[test]
fn metric_names_and_matchers_are_found_in_promql() {
    let expr = r#"sum by (job) (rate(wordgate_a_total{result="failed",job=~"x.*"}[5m])) / x_wordgate_b + wordgate_c:rate5m{l="a\"}b"}"#;
    let refs = metric_refs(expr);
    let names: Vec<&str> = refs.iter().map(|found| found.name.as_str()).collect();
    assert_eq!(names, ["wordgate_a_total", "wordgate_c:rate5m"]);
    assert_eq!(refs[0].equals, [("result".to_string(), "failed".to_string())]);
    assert_eq!(refs[1].equals, [("l".to_string(), "a\"}b".to_string())]);
}
