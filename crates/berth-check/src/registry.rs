//! The one table of rules. A code, once published, keeps its meaning.

use crate::rule::{Rule, RuleInfo};
use crate::rules::*;

#[derive(Debug)]
pub struct Entry {
    pub info: RuleInfo,
    pub rule: &'static dyn Rule,
}

macro_rules! registry {
    ($($module:ident::$rule:ident),* $(,)?) => {
        pub static RULES: &[Entry] = &[$(Entry { info: $module::$rule::INFO, rule: &$module::$rule }),*];
    };
}

registry![
    privileged_container::PrivilegedContainer,
    runs_as_root::RunsAsRoot,
    privilege_escalation::PrivilegeEscalation,
    writable_root_filesystem::WritableRootFilesystem,
    missing_resources::MissingResources,
    missing_probes::MissingProbes,
    identical_probes::IdenticalProbes,
    mutable_image_tag::MutableImageTag,
    host_namespaces::HostNamespaces,
    host_path::HostPath,
    dangerous_capabilities::DangerousCapabilities,
    secret_in_env::SecretInEnv,
    default_namespace::DefaultNamespace,
    default_service_account::DefaultServiceAccount,
    deprecated_api::DeprecatedApi,
    rbac_wildcard::RbacWildcard,
    secret_in_configmap::SecretInConfigmap,
    dockerfile_root_user::DockerfileRootUser,
    unpinned_base_image::UnpinnedBaseImage,
    add_instead_of_copy::AddInsteadOfCopy,
    healthcheck_tool_missing::HealthcheckToolMissing,
    compose_port_all_interfaces::ComposePortAllInterfaces,
    compose_credentials_in_environment::ComposeCredentialsInEnvironment,
    depends_on_without_healthcheck::DependsOnWithoutHealthcheck,
    replicas_with_fixed_host_port::ReplicasWithFixedHostPort,
    compose_host_access::ComposeHostAccess,
    add_header_inheritance::AddHeaderInheritance,
    limit_req_zone::LimitReqZone,
    keepalive_without_http11::KeepaliveWithoutHttp11,
    weak_tls::WeakTls,
    hsts_without_always::HstsWithoutAlways,
    health_answered_by_proxy::HealthAnsweredByProxy,
    environment_file_export::EnvironmentFileExport,
    read_write_paths_missing::ReadWritePathsMissing,
    deprecated_directive::DeprecatedDirective,
    alert_without_for::AlertWithoutFor,
    percentage_scaled_twice::PercentageScaledTwice,
    invalid_promql::InvalidPromql,
    service_target_port::ServiceTargetPort,
    service_selects_nothing::ServiceSelectsNothing,
    network_policy_port::NetworkPolicyPort,
    duplicate_autoscalers::DuplicateAutoscalers,
    autoscaler_with_replicas::AutoscalerWithReplicas,
    proxy_target_missing::ProxyTargetMissing,
    port_mismatch::PortMismatch,
    probe_target_missing::ProbeTargetMissing,
    alert_on_missing_metric::AlertOnMissingMetric,
    scrape_target_missing::ScrapeTargetMissing,
    shared_rwo_volume::SharedRwoVolume,
    connection_budget::ConnectionBudget,
    upstream_timeout::UpstreamTimeout,
    ingress_backend_missing::IngressBackendMissing,
    duplicate_key::DuplicateKey,
    pipeline_hides_failure::PipelineHidesFailure,
    backup_failure_ignored::BackupFailureIgnored,
    remote_script_to_shell::RemoteScriptToShell,
    shell_literal_password::ShellLiteralPassword,
    unchecked_cd_before_delete::UncheckedCdBeforeDelete,
    rds_deletion_protection::RdsDeletionProtection,
    rds_storage_unencrypted::RdsStorageUnencrypted,
    rds_backups_disabled::RdsBackupsDisabled,
    security_group_open_port::SecurityGroupOpenPort,
    http_listener_forwards::HttpListenerForwards,
    elasticache_unencrypted::ElasticacheUnencrypted,
    env_duplicate_key::EnvDuplicateKey,
    env_committed_credential::EnvCommittedCredential,
    tar_exclude_after_paths::TarExcludeAfterPaths,
    find_delete_after_exec_plus::FindDeleteAfterExecPlus,
    restore_without_on_error_stop::RestoreWithoutOnErrorStop,
    drop_connected_database::DropConnectedDatabase,
    interpolated_from_env_file::InterpolatedFromEnvFile,
    alertmanager_not_deployed::AlertmanagerNotDeployed,
    redis_password_missing_from_url::RedisPasswordMissingFromUrl,
    unknown_or_mistyped_field::UnknownOrMistypedField,
    invalid_compose_value::InvalidComposeValue,
    undefined_reference::UndefinedReference,
    alb_idle_timeout_below_app::AlbIdleTimeoutBelowApp,
    egress_without_dns::EgressWithoutDns,
    directive_in_wrong_context::DirectiveInWrongContext,
    limit_in_unlistened_server::LimitInUnlistenedServer,
    cipher_matches_nothing::CipherMatchesNothing,
    server_fragment_as_nginx_conf::ServerFragmentAsNginxConf,
];

/// The rule with this code (`K001`) or name (`privileged-container`).
pub fn find(code_or_name: &str) -> Option<&'static Entry> {
    RULES.iter().find(|e| e.info.code.id.eq_ignore_ascii_case(code_or_name) || e.info.code.name == code_or_name)
}

/// `docs/rules.md`: every rule's code, name, severity, documentation and fix,
/// from the rule structs' doc comments.
pub fn markdown() -> String {
    let mut out = String::from(
        "<!-- Generated from the rules in crates/berth-check/src/rules. Do not edit by hand. -->\n\n# berth check rules\n\n\
         Codes are stable. `K` rules read Kubernetes objects, `D` Dockerfiles, `C` compose files, `N` nginx, `U` systemd units,\n\
         `P` Prometheus rules, `B` shell scripts, `A` AWS CloudFormation templates, `V` env files, `Y` the YAML itself, and `X`\n\
         rules connect several objects or files. Suppress one with a reason: the annotation `ignore.berth.dev/<CODE>: <reason>`\n\
         (or `ignore.berth.dev/<CODE>.<container>`), a comment `# berth: ignore[<CODE>] <reason>` on or above the line, or an\n\
         entry in a `berth-check.yaml` (`rule`, optional `paths` globs and `object`, and a `reason`).\n\n\
         | code | name | severity |\n| --- | --- | --- |\n",
    );
    for e in RULES {
        out.push_str(&format!(
            "| [{id}](#{lower}-{name}) | {name} | {severity} |\n",
            id = e.info.code.id,
            lower = e.info.code.id.to_ascii_lowercase(),
            name = e.info.code.name,
            severity = e.info.severity.as_str()
        ));
    }
    out.push_str(
        "\nBesides the rules, two codes report on the input itself:\n\n| code | name | severity | meaning |\n| --- | --- | --- | --- |\n",
    );
    for (code, meaning) in [
        (
            crate::graph::PARSE_ERROR,
            "a file does not parse as what it looks like; the rest of the files are still checked",
        ),
        (
            crate::config::CONFIG_ERROR,
            "the `berth-check.yaml` configuration is malformed (file, line and column given)",
        ),
    ] {
        out.push_str(&format!("| {} | {} | error | {meaning} |\n", code.id, code.name));
    }
    for e in RULES {
        let why: Vec<&str> = e.info.why.lines().map(str::trim).collect();
        out.push_str(&format!(
            "\n## {} {}\n\nSeverity: {}.\n\n{}\n\n**Fix:** {}.\n",
            e.info.code.id,
            e.info.code.name,
            e.info.severity.as_str(),
            why.join(" ").trim(),
            e.info.fix
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_names_are_unique_and_documented() {
        for (i, a) in RULES.iter().enumerate() {
            assert!(!a.info.why.trim().is_empty(), "{} has no documentation", a.info.code.id);
            for b in &RULES[..i] {
                assert_ne!(a.info.code.id, b.info.code.id);
                assert_ne!(a.info.code.name, b.info.code.name);
            }
        }
    }
}
