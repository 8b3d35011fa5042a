//! One file per rule. Each is registered once in [`crate::registry::RULES`].

mod credentials;
mod support;

/// What one rule finds in a tree of `(path, text)` files, every rule having
/// run as `berth check` runs them: for the rules' own unit tests.
#[cfg(test)]
pub(crate) fn findings_of(code: &str, files: &[(&str, &str)]) -> Vec<crate::Finding> {
    let inputs = files.iter().map(|(path, text)| crate::Input { path: (*path).into(), text: (*text).into() }).collect();
    crate::check(inputs, None).findings.into_iter().filter(|f| f.diagnostic.code.id == code).collect()
}

/// The messages of [`findings_of`].
#[cfg(test)]
pub(crate) fn messages_of(code: &str, files: &[(&str, &str)]) -> Vec<String> {
    findings_of(code, files).into_iter().map(|f| f.diagnostic.message).collect()
}

pub mod add_header_inheritance;
pub mod add_instead_of_copy;
pub mod alb_idle_timeout_below_app;
pub mod alert_on_missing_metric;
pub mod alert_without_for;
pub mod alertmanager_not_deployed;
pub mod autoscaler_with_replicas;
pub mod backup_failure_ignored;
pub mod cipher_matches_nothing;
pub mod compose_credentials_in_environment;
pub mod compose_host_access;
pub mod compose_port_all_interfaces;
pub mod connection_budget;
pub mod dangerous_capabilities;
pub mod default_namespace;
pub mod default_service_account;
pub mod depends_on_without_healthcheck;
pub mod deprecated_api;
pub mod deprecated_directive;
pub mod directive_in_wrong_context;
pub mod dockerfile_root_user;
pub mod drop_connected_database;
pub mod duplicate_autoscalers;
pub mod duplicate_key;
pub mod egress_without_dns;
pub mod elasticache_unencrypted;
pub mod env_committed_credential;
pub mod env_duplicate_key;
pub mod environment_file_export;
pub mod find_delete_after_exec_plus;
pub mod health_answered_by_proxy;
pub mod healthcheck_tool_missing;
pub mod host_namespaces;
pub mod host_path;
pub mod hsts_without_always;
pub mod http_listener_forwards;
pub mod identical_probes;
pub mod ingress_backend_missing;
pub mod interpolated_from_env_file;
pub mod invalid_compose_value;
pub mod invalid_promql;
pub mod keepalive_without_http11;
pub mod limit_in_unlistened_server;
pub mod limit_req_zone;
pub mod missing_probes;
pub mod missing_resources;
pub mod mutable_image_tag;
pub mod network_policy_port;
pub mod percentage_scaled_twice;
pub mod pipeline_hides_failure;
pub mod port_mismatch;
pub mod privilege_escalation;
pub mod privileged_container;
pub mod probe_target_missing;
pub mod proxy_target_missing;
pub mod rbac_wildcard;
pub mod rds_backups_disabled;
pub mod rds_deletion_protection;
pub mod rds_storage_unencrypted;
pub mod read_write_paths_missing;
pub mod redis_password_missing_from_url;
pub mod remote_script_to_shell;
pub mod replicas_with_fixed_host_port;
pub mod restore_without_on_error_stop;
pub mod runs_as_root;
pub mod scrape_target_missing;
pub mod secret_in_configmap;
pub mod secret_in_env;
pub mod security_group_open_port;
pub mod server_fragment_as_nginx_conf;
pub mod service_selects_nothing;
pub mod service_target_port;
pub mod shared_rwo_volume;
pub mod shell_literal_password;
pub mod tar_exclude_after_paths;
pub mod unchecked_cd_before_delete;
pub mod undefined_reference;
pub mod unknown_or_mistyped_field;
pub mod unpinned_base_image;
pub mod upstream_timeout;
pub mod weak_tls;
pub mod writable_root_filesystem;
