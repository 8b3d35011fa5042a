//! One file per rule. Each is registered once in [`crate::registry::RULES`].

mod support;

pub mod add_instead_of_copy;
pub mod autoscaler_with_replicas;
pub mod compose_credentials_in_environment;
pub mod compose_host_access;
pub mod compose_port_all_interfaces;
pub mod dangerous_capabilities;
pub mod depends_on_without_healthcheck;
pub mod dockerfile_root_user;
pub mod duplicate_autoscalers;
pub mod duplicate_key;
pub mod host_namespaces;
pub mod host_path;
pub mod identical_probes;
pub mod missing_probes;
pub mod missing_resources;
pub mod mutable_image_tag;
pub mod network_policy_port;
pub mod privilege_escalation;
pub mod privileged_container;
pub mod replicas_with_fixed_host_port;
pub mod runs_as_root;
pub mod secret_in_env;
pub mod service_selects_nothing;
pub mod service_target_port;
pub mod unpinned_base_image;
pub mod writable_root_filesystem;
