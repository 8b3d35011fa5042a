use super::Checker;
use crate::codes;
use crate::model::{Deploy, Strategy};
use crate::path::Path;

pub(crate) fn check(deploy: &Deploy, path: &Path, checker: &mut Checker<'_>) {
    if deploy.batch == Some(0) {
        checker
            .error(codes::OUT_OF_RANGE, &path.key("batch"), "a rolling batch of 0 replicas never finishes")
            .with_help("use `batch: 1` or more");
    }
    if let Some(weight) = deploy.canary_weight {
        if deploy.strategy != Some(Strategy::Canary) {
            checker
                .warning(
                    codes::NOT_APPLICABLE,
                    &path.key("canary_weight"),
                    "`canary_weight` only applies to `strategy: canary`",
                )
                .with_help("set `strategy: canary`, or remove `canary_weight`");
        } else if weight.0 <= 0.0 || weight.0 >= 100.0 {
            checker
                .error(
                    codes::OUT_OF_RANGE,
                    &path.key("canary_weight"),
                    format!("a canary weight of {weight}% sends the canary all or no traffic"),
                )
                .with_help("use a weight between 1 and 99");
        }
    }
    if deploy.batch.is_some() && deploy.strategy.is_some_and(|s| s != Strategy::Rolling) {
        checker.warning(codes::NOT_APPLICABLE, &path.key("batch"), "`batch` only applies to `strategy: rolling`");
    }
    if deploy.health_timeout.is_some_and(|d| d.0.is_zero()) {
        checker
            .error(codes::OUT_OF_RANGE, &path.key("health_timeout"), "a health timeout of 0 fails every deploy")
            .with_help("give new replicas time to start, such as `60s`");
    }
}
