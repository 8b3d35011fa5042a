# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_berth_global_optspecs
    string join \n color= h/help V/version
end

function __fish_berth_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_berth_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_berth_using_subcommand
    set -l cmd (__fish_berth_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c berth -n "__fish_berth_needs_command" -l color -d 'When to color output' -r -f -a "auto\t''
always\t''
never\t''"
complete -c berth -n "__fish_berth_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c berth -n "__fish_berth_needs_command" -s V -l version -d 'Print version'
complete -c berth -n "__fish_berth_needs_command" -f -a "init" -d 'Write a commented starter berth.yaml, detecting what it can'
complete -c berth -n "__fish_berth_needs_command" -f -a "validate" -d 'Check a spec and report every problem with file, line and column'
complete -c berth -n "__fish_berth_needs_command" -f -a "plan" -d 'Print the resolved plan of one environment: what every target deploys'
complete -c berth -n "__fish_berth_needs_command" -f -a "render" -d 'Render deployment files for one or more targets'
complete -c berth -n "__fish_berth_needs_command" -f -a "check" -d 'Check deployment files for production readiness: a berth spec and what it renders, and hand-written Kubernetes manifests, compose files, Dockerfiles, nginx configs, Prometheus configs and rules, and systemd units, as one graph'
complete -c berth -n "__fish_berth_needs_command" -f -a "diff" -d 'Show how the files in the output directory differ from what the spec renders'
complete -c berth -n "__fish_berth_needs_command" -f -a "up" -d 'Run the stack on this machine: every replica supervised, behind the berth edge'
complete -c berth -n "__fish_berth_needs_command" -f -a "edge" -d 'Run the berth edge on its own, in front of services reached by name: the gateway the kubernetes and compose targets render with `gateway: true`'
complete -c berth -n "__fish_berth_needs_command" -f -a "status" -d 'Show every replica: pid, port, health, restarts and version'
complete -c berth -n "__fish_berth_needs_command" -f -a "down" -d 'Stop a stack started by `berth up`'
complete -c berth -n "__fish_berth_needs_command" -f -a "deploy" -d 'Roll out a new version with no failed request: start, gate on readiness, switch, drain'
complete -c berth -n "__fish_berth_needs_command" -f -a "promote" -d 'Send every request to a waiting canary'
complete -c berth -n "__fish_berth_needs_command" -f -a "rollback" -d 'Drop a waiting canary, or return a service to the version before its last deploy'
complete -c berth -n "__fish_berth_needs_command" -f -a "run" -d 'Run one of the spec\'s jobs now, in the running stack, with its service\'s settings and version'
complete -c berth -n "__fish_berth_needs_command" -f -a "logs" -d 'Print the services\' logs, merged and prefixed'
complete -c berth -n "__fish_berth_needs_command" -f -a "backup" -d 'Back up dependencies; list, verify and prune their backups'
complete -c berth -n "__fish_berth_needs_command" -f -a "restore" -d 'Restore a backup into a scratch database, verify it, then swap it in'
complete -c berth -n "__fish_berth_needs_command" -f -a "doctor" -d 'Check a running deployment against its spec: health, replicas, dependencies, certificates, disk, backups, WAL, secrets, drift'
complete -c berth -n "__fish_berth_needs_command" -f -a "schema" -d 'Print the JSON Schema of berth.yaml, for editors and CI'
complete -c berth -n "__fish_berth_needs_command" -f -a "completions" -d 'Print a shell completion script'
complete -c berth -n "__fish_berth_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c berth -n "__fish_berth_using_subcommand init" -l name -d 'Project name (default: detected, or the directory\'s name)' -r
complete -c berth -n "__fish_berth_using_subcommand init" -l color -d 'When to color output' -r -f -a "auto\t''
always\t''
never\t''"
complete -c berth -n "__fish_berth_using_subcommand init" -l force -d 'Overwrite an existing berth.yaml'
complete -c berth -n "__fish_berth_using_subcommand init" -s h -l help -d 'Print help'
complete -c berth -n "__fish_berth_using_subcommand init" -s V -l version -d 'Print version'
complete -c berth -n "__fish_berth_using_subcommand validate" -s f -l file -d 'A spec file to check, as kubectl and helm take it (repeatable)' -r -F
complete -c berth -n "__fish_berth_using_subcommand validate" -s e -l env -d 'Check one environment\'s overlay only (default: the base and every environment)' -r
complete -c berth -n "__fish_berth_using_subcommand validate" -s o -l output -d 'Output format' -r -f -a "human\t'For people: the line, the problem underlined, a hint'
json\t'A JSON array of diagnostics with 1-based line/column positions'"
complete -c berth -n "__fish_berth_using_subcommand validate" -l color -d 'When to color output' -r -f -a "auto\t''
always\t''
never\t''"
complete -c berth -n "__fish_berth_using_subcommand validate" -l deny-warnings -d 'Exit 1 on warnings too'
complete -c berth -n "__fish_berth_using_subcommand validate" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c berth -n "__fish_berth_using_subcommand validate" -s V -l version -d 'Print version'
complete -c berth -n "__fish_berth_using_subcommand plan" -s f -l file -d 'Spec file, as kubectl and helm take it' -r -F
complete -c berth -n "__fish_berth_using_subcommand plan" -s e -l env -d 'Environment whose overlay to apply' -r
complete -c berth -n "__fish_berth_using_subcommand plan" -s o -l output -d 'Output format' -r -f -a "yaml\t''
json\t''"
complete -c berth -n "__fish_berth_using_subcommand plan" -l color -d 'When to color output' -r -f -a "auto\t''
always\t''
never\t''"
complete -c berth -n "__fish_berth_using_subcommand plan" -s h -l help -d 'Print help'
complete -c berth -n "__fish_berth_using_subcommand plan" -s V -l version -d 'Print version'
complete -c berth -n "__fish_berth_using_subcommand render" -s f -l file -d 'Spec file' -r -F
complete -c berth -n "__fish_berth_using_subcommand render" -s e -l env -d 'Environment whose overlay to apply' -r
complete -c berth -n "__fish_berth_using_subcommand render" -l out -d 'Directory the files go in, one subdirectory per target' -r -F
complete -c berth -n "__fish_berth_using_subcommand render" -l color -d 'When to color output' -r -f -a "auto\t''
always\t''
never\t''"
complete -c berth -n "__fish_berth_using_subcommand render" -l check -d 'Write nothing; exit 1 when the directory differs from what the spec renders'
complete -c berth -n "__fish_berth_using_subcommand render" -s h -l help -d 'Print help'
complete -c berth -n "__fish_berth_using_subcommand render" -s V -l version -d 'Print version'
complete -c berth -n "__fish_berth_using_subcommand check" -s f -l file -d 'A file or directory to check, as kubectl and helm take it (repeatable)' -r -F
complete -c berth -n "__fish_berth_using_subcommand check" -s e -l env -d 'The environment overlay of berth specs to check' -r
complete -c berth -n "__fish_berth_using_subcommand check" -s o -l output -d 'Output format' -r -f -a "human\t'For people: file:line, the snippet, a hint'
json\t'Files and findings (suppressed ones with their reason)'
sarif\t'SARIF 2.1.0, for GitHub code scanning'
junit\t'JUnit XML, for CI test reports'"
complete -c berth -n "__fish_berth_using_subcommand check" -l severity -d 'Lowest severity that is shown and fails the run (exit 1)' -r -f -a "info\t''
warning\t''
error\t''"
complete -c berth -n "__fish_berth_using_subcommand check" -l select -d 'Run only these rules: codes, names or code prefixes (`K`, `X01`, `ALL`), comma-separated; replaces `select` in berth-check.yaml' -r
complete -c berth -n "__fish_berth_using_subcommand check" -l ignore -d 'Turn these rules off: codes, names or code prefixes, comma-separated; wins over berth-check.yaml' -r
complete -c berth -n "__fish_berth_using_subcommand check" -l baseline -d 'Hide the findings this baseline file holds (see --write-baseline): only new findings count' -r -F
complete -c berth -n "__fish_berth_using_subcommand check" -l write-baseline -d 'Record every current finding in FILE as the baseline, and exit 0' -r -F
complete -c berth -n "__fish_berth_using_subcommand check" -l color -d 'When to color output' -r -f -a "auto\t''
always\t''
never\t''"
complete -c berth -n "__fish_berth_using_subcommand check" -l no-helm -d 'Do not render Helm charts with `helm template` even when helm is on PATH (their templates are then skipped with a note)'
complete -c berth -n "__fish_berth_using_subcommand check" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c berth -n "__fish_berth_using_subcommand check" -s V -l version -d 'Print version'
complete -c berth -n "__fish_berth_using_subcommand diff" -s f -l file -d 'Spec file' -r -F
complete -c berth -n "__fish_berth_using_subcommand diff" -s e -l env -d 'Environment whose overlay to apply' -r
complete -c berth -n "__fish_berth_using_subcommand diff" -l out -d 'Directory the files go in, one subdirectory per target' -r -F
complete -c berth -n "__fish_berth_using_subcommand diff" -l color -d 'When to color output' -r -f -a "auto\t''
always\t''
never\t''"
complete -c berth -n "__fish_berth_using_subcommand diff" -l check -d 'Write nothing; exit 1 when the directory differs from what the spec renders'
complete -c berth -n "__fish_berth_using_subcommand diff" -s h -l help -d 'Print help'
complete -c berth -n "__fish_berth_using_subcommand diff" -s V -l version -d 'Print version'
complete -c berth -n "__fish_berth_using_subcommand up" -s f -l file -d 'Spec file, as kubectl and helm take it' -r -F
complete -c berth -n "__fish_berth_using_subcommand up" -s e -l env -d 'Environment whose overlay to apply' -r
complete -c berth -n "__fish_berth_using_subcommand up" -l color -d 'When to color output' -r -f -a "auto\t''
always\t''
never\t''"
complete -c berth -n "__fish_berth_using_subcommand up" -s d -l detach -d 'Run in the background; output goes to .berth/<environment>/logs/berth-up.log'
complete -c berth -n "__fish_berth_using_subcommand up" -s h -l help -d 'Print help'
complete -c berth -n "__fish_berth_using_subcommand up" -s V -l version -d 'Print version'
complete -c berth -n "__fish_berth_using_subcommand edge" -s f -l file -d 'Spec file, as kubectl and helm take it' -r -F
complete -c berth -n "__fish_berth_using_subcommand edge" -s e -l env -d 'Environment whose overlay to apply' -r
complete -c berth -n "__fish_berth_using_subcommand edge" -l bind -d 'Address to bind the spec\'s HTTP and HTTPS ports on' -r
complete -c berth -n "__fish_berth_using_subcommand edge" -l admin -d 'Address of the status page and metrics (they answer loopback host names only). Default: 127.0.0.1 and the spec\'s admin port' -r
complete -c berth -n "__fish_berth_using_subcommand edge" -l tls-cert -d 'Certificate (PEM) to serve instead of the spec\'s TLS mode, such as a mounted TLS Secret' -r -F
complete -c berth -n "__fish_berth_using_subcommand edge" -l tls-key -d 'Private key (PEM) of --tls-cert' -r -F
complete -c berth -n "__fish_berth_using_subcommand edge" -l secrets-dir -d 'Directory of secret files named after the secrets (docker and compose secrets: /run/secrets), read before the environment' -r -F
complete -c berth -n "__fish_berth_using_subcommand edge" -l resolve-every -d 'Seconds between resolving the services\' names again' -r
complete -c berth -n "__fish_berth_using_subcommand edge" -l drain -d 'Seconds in-flight requests get after SIGTERM' -r
complete -c berth -n "__fish_berth_using_subcommand edge" -l spec-env -d 'Read the spec from this environment variable instead of a file (platforms that mount no files, such as ECS)' -r
complete -c berth -n "__fish_berth_using_subcommand edge" -l domain -d 'DNS domain the services are found under (`api.<DOMAIN>`), such as an ECS service-discovery namespace' -r
complete -c berth -n "__fish_berth_using_subcommand edge" -l trusted-proxy -d 'A proxy (address or CIDR block) whose X-Forwarded-For and X-Forwarded-Proto are believed, besides the spec\'s trusted_proxies. Repeatable' -r
complete -c berth -n "__fish_berth_using_subcommand edge" -l color -d 'When to color output' -r -f -a "auto\t''
always\t''
never\t''"
complete -c berth -n "__fish_berth_using_subcommand edge" -l tls-offloaded -d 'TLS ends at the load balancer in front: serve HTTP only and believe its X-Forwarded-Proto'
complete -c berth -n "__fish_berth_using_subcommand edge" -s h -l help -d 'Print help'
complete -c berth -n "__fish_berth_using_subcommand edge" -s V -l version -d 'Print version'
complete -c berth -n "__fish_berth_using_subcommand status" -s f -l file -d 'Spec file, as kubectl and helm take it' -r -F
complete -c berth -n "__fish_berth_using_subcommand status" -s e -l env -d 'Environment whose overlay to apply' -r
complete -c berth -n "__fish_berth_using_subcommand status" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''"
complete -c berth -n "__fish_berth_using_subcommand status" -l color -d 'When to color output' -r -f -a "auto\t''
always\t''
never\t''"
complete -c berth -n "__fish_berth_using_subcommand status" -s h -l help -d 'Print help'
complete -c berth -n "__fish_berth_using_subcommand status" -s V -l version -d 'Print version'
complete -c berth -n "__fish_berth_using_subcommand down" -s f -l file -d 'Spec file, as kubectl and helm take it' -r -F
complete -c berth -n "__fish_berth_using_subcommand down" -s e -l env -d 'Environment whose overlay to apply' -r
complete -c berth -n "__fish_berth_using_subcommand down" -l color -d 'When to color output' -r -f -a "auto\t''
always\t''
never\t''"
complete -c berth -n "__fish_berth_using_subcommand down" -s h -l help -d 'Print help'
complete -c berth -n "__fish_berth_using_subcommand down" -s V -l version -d 'Print version'
complete -c berth -n "__fish_berth_using_subcommand deploy" -l version -d 'Version to run; the new replicas see it as BERTH_VERSION' -r
complete -c berth -n "__fish_berth_using_subcommand deploy" -l set -d 'Extra environment for the new replicas, KEY=VALUE (repeatable)' -r
complete -c berth -n "__fish_berth_using_subcommand deploy" -s f -l file -d 'Spec file' -r -F
complete -c berth -n "__fish_berth_using_subcommand deploy" -s e -l env -d 'Environment whose overlay to apply' -r
complete -c berth -n "__fish_berth_using_subcommand deploy" -l color -d 'When to color output' -r -f -a "auto\t''
always\t''
never\t''"
complete -c berth -n "__fish_berth_using_subcommand deploy" -s h -l help -d 'Print help'
complete -c berth -n "__fish_berth_using_subcommand promote" -s f -l file -d 'Spec file' -r -F
complete -c berth -n "__fish_berth_using_subcommand promote" -s e -l env -d 'Environment whose overlay to apply' -r
complete -c berth -n "__fish_berth_using_subcommand promote" -l color -d 'When to color output' -r -f -a "auto\t''
always\t''
never\t''"
complete -c berth -n "__fish_berth_using_subcommand promote" -s h -l help -d 'Print help'
complete -c berth -n "__fish_berth_using_subcommand promote" -s V -l version -d 'Print version'
complete -c berth -n "__fish_berth_using_subcommand rollback" -s f -l file -d 'Spec file' -r -F
complete -c berth -n "__fish_berth_using_subcommand rollback" -s e -l env -d 'Environment whose overlay to apply' -r
complete -c berth -n "__fish_berth_using_subcommand rollback" -l color -d 'When to color output' -r -f -a "auto\t''
always\t''
never\t''"
complete -c berth -n "__fish_berth_using_subcommand rollback" -s h -l help -d 'Print help'
complete -c berth -n "__fish_berth_using_subcommand rollback" -s V -l version -d 'Print version'
complete -c berth -n "__fish_berth_using_subcommand run" -s f -l file -d 'Spec file' -r -F
complete -c berth -n "__fish_berth_using_subcommand run" -s e -l env -d 'Environment whose overlay to apply' -r
complete -c berth -n "__fish_berth_using_subcommand run" -l color -d 'When to color output' -r -f -a "auto\t''
always\t''
never\t''"
complete -c berth -n "__fish_berth_using_subcommand run" -s h -l help -d 'Print help'
complete -c berth -n "__fish_berth_using_subcommand run" -s V -l version -d 'Print version'
complete -c berth -n "__fish_berth_using_subcommand logs" -l file -d 'Spec file' -r -F
complete -c berth -n "__fish_berth_using_subcommand logs" -s e -l env -d 'Environment whose overlay to apply' -r
complete -c berth -n "__fish_berth_using_subcommand logs" -l color -d 'When to color output' -r -f -a "auto\t''
always\t''
never\t''"
complete -c berth -n "__fish_berth_using_subcommand logs" -s f -l follow -d 'Keep printing new lines'
complete -c berth -n "__fish_berth_using_subcommand logs" -s h -l help -d 'Print help'
complete -c berth -n "__fish_berth_using_subcommand logs" -s V -l version -d 'Print version'
complete -c berth -n "__fish_berth_using_subcommand backup; and not __fish_seen_subcommand_from verify list prune exporter wal-ship help" -s f -l file -d 'Spec file' -r -F
complete -c berth -n "__fish_berth_using_subcommand backup; and not __fish_seen_subcommand_from verify list prune exporter wal-ship help" -s e -l env -d 'Environment whose overlay to apply' -r
complete -c berth -n "__fish_berth_using_subcommand backup; and not __fish_seen_subcommand_from verify list prune exporter wal-ship help" -l from -d 'The server\'s connection URL (default: see below)' -r
complete -c berth -n "__fish_berth_using_subcommand backup; and not __fish_seen_subcommand_from verify list prune exporter wal-ship help" -s j -l jobs -d 'Parallel jobs for dumps, restores and compression (default: CPUs)' -r
complete -c berth -n "__fish_berth_using_subcommand backup; and not __fish_seen_subcommand_from verify list prune exporter wal-ship help" -l work-dir -d 'Scratch space for staging and scratch servers (default: in $TMPDIR)' -r -F
complete -c berth -n "__fish_berth_using_subcommand backup; and not __fish_seen_subcommand_from verify list prune exporter wal-ship help" -l dir -d 'A volume\'s directory (default: berth up\'s, else the systemd target\'s /var/lib/PROJECT/SERVICE/VOLUME)' -r -F
complete -c berth -n "__fish_berth_using_subcommand backup; and not __fish_seen_subcommand_from verify list prune exporter wal-ship help" -l method -d 'PostgreSQL: override the spec\'s method' -r -f -a "logical\t''
physical\t''"
complete -c berth -n "__fish_berth_using_subcommand backup; and not __fish_seen_subcommand_from verify list prune exporter wal-ship help" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''"
complete -c berth -n "__fish_berth_using_subcommand backup; and not __fish_seen_subcommand_from verify list prune exporter wal-ship help" -l color -d 'When to color output' -r -f -a "auto\t''
always\t''
never\t''"
complete -c berth -n "__fish_berth_using_subcommand backup; and not __fish_seen_subcommand_from verify list prune exporter wal-ship help" -s h -l help -d 'Print help'
complete -c berth -n "__fish_berth_using_subcommand backup; and not __fish_seen_subcommand_from verify list prune exporter wal-ship help" -s V -l version -d 'Print version'
complete -c berth -n "__fish_berth_using_subcommand backup; and not __fish_seen_subcommand_from verify list prune exporter wal-ship help" -a "verify" -d 'Restore a backup into a scratch server, check its checksums and compare it with its manifest'
complete -c berth -n "__fish_berth_using_subcommand backup; and not __fish_seen_subcommand_from verify list prune exporter wal-ship help" -a "list" -d 'List backups: id, method, when, size, verified'
complete -c berth -n "__fish_berth_using_subcommand backup; and not __fish_seen_subcommand_from verify list prune exporter wal-ship help" -a "prune" -d 'Delete what the spec\'s retention does not keep; never the newest verified backup or WAL a kept base backup needs'
complete -c berth -n "__fish_berth_using_subcommand backup; and not __fish_seen_subcommand_from verify list prune exporter wal-ship help" -a "exporter" -d 'Serve the backups\' state as Prometheus metrics (newest verified backup, newest shipped WAL) for the rendered alerts'
complete -c berth -n "__fish_berth_using_subcommand backup; and not __fish_seen_subcommand_from verify list prune exporter wal-ship help" -a "wal-ship" -d 'Ship WAL segments from PostgreSQL\'s archive spool to the destination (`berth up` does this itself)'
complete -c berth -n "__fish_berth_using_subcommand backup; and not __fish_seen_subcommand_from verify list prune exporter wal-ship help" -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c berth -n "__fish_berth_using_subcommand backup; and __fish_seen_subcommand_from verify" -s f -l file -d 'Spec file' -r -F
complete -c berth -n "__fish_berth_using_subcommand backup; and __fish_seen_subcommand_from verify" -s e -l env -d 'Environment whose overlay to apply' -r
complete -c berth -n "__fish_berth_using_subcommand backup; and __fish_seen_subcommand_from verify" -l from -d 'The server\'s connection URL (default: see below)' -r
complete -c berth -n "__fish_berth_using_subcommand backup; and __fish_seen_subcommand_from verify" -s j -l jobs -d 'Parallel jobs for dumps, restores and compression (default: CPUs)' -r
complete -c berth -n "__fish_berth_using_subcommand backup; and __fish_seen_subcommand_from verify" -l work-dir -d 'Scratch space for staging and scratch servers (default: in $TMPDIR)' -r -F
complete -c berth -n "__fish_berth_using_subcommand backup; and __fish_seen_subcommand_from verify" -l dir -d 'A volume\'s directory (default: berth up\'s, else the systemd target\'s /var/lib/PROJECT/SERVICE/VOLUME)' -r -F
complete -c berth -n "__fish_berth_using_subcommand backup; and __fish_seen_subcommand_from verify" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''"
complete -c berth -n "__fish_berth_using_subcommand backup; and __fish_seen_subcommand_from verify" -l color -d 'When to color output' -r -f -a "auto\t''
always\t''
never\t''"
complete -c berth -n "__fish_berth_using_subcommand backup; and __fish_seen_subcommand_from verify" -s h -l help -d 'Print help'
complete -c berth -n "__fish_berth_using_subcommand backup; and __fish_seen_subcommand_from verify" -s V -l version -d 'Print version'
complete -c berth -n "__fish_berth_using_subcommand backup; and __fish_seen_subcommand_from list" -s f -l file -d 'Spec file' -r -F
complete -c berth -n "__fish_berth_using_subcommand backup; and __fish_seen_subcommand_from list" -s e -l env -d 'Environment whose overlay to apply' -r
complete -c berth -n "__fish_berth_using_subcommand backup; and __fish_seen_subcommand_from list" -l from -d 'The server\'s connection URL (default: see below)' -r
complete -c berth -n "__fish_berth_using_subcommand backup; and __fish_seen_subcommand_from list" -s j -l jobs -d 'Parallel jobs for dumps, restores and compression (default: CPUs)' -r
complete -c berth -n "__fish_berth_using_subcommand backup; and __fish_seen_subcommand_from list" -l work-dir -d 'Scratch space for staging and scratch servers (default: in $TMPDIR)' -r -F
complete -c berth -n "__fish_berth_using_subcommand backup; and __fish_seen_subcommand_from list" -l dir -d 'A volume\'s directory (default: berth up\'s, else the systemd target\'s /var/lib/PROJECT/SERVICE/VOLUME)' -r -F
complete -c berth -n "__fish_berth_using_subcommand backup; and __fish_seen_subcommand_from list" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''"
complete -c berth -n "__fish_berth_using_subcommand backup; and __fish_seen_subcommand_from list" -l color -d 'When to color output' -r -f -a "auto\t''
always\t''
never\t''"
complete -c berth -n "__fish_berth_using_subcommand backup; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c berth -n "__fish_berth_using_subcommand backup; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c berth -n "__fish_berth_using_subcommand backup; and __fish_seen_subcommand_from prune" -s f -l file -d 'Spec file' -r -F
complete -c berth -n "__fish_berth_using_subcommand backup; and __fish_seen_subcommand_from prune" -s e -l env -d 'Environment whose overlay to apply' -r
complete -c berth -n "__fish_berth_using_subcommand backup; and __fish_seen_subcommand_from prune" -l from -d 'The server\'s connection URL (default: see below)' -r
complete -c berth -n "__fish_berth_using_subcommand backup; and __fish_seen_subcommand_from prune" -s j -l jobs -d 'Parallel jobs for dumps, restores and compression (default: CPUs)' -r
complete -c berth -n "__fish_berth_using_subcommand backup; and __fish_seen_subcommand_from prune" -l work-dir -d 'Scratch space for staging and scratch servers (default: in $TMPDIR)' -r -F
complete -c berth -n "__fish_berth_using_subcommand backup; and __fish_seen_subcommand_from prune" -l dir -d 'A volume\'s directory (default: berth up\'s, else the systemd target\'s /var/lib/PROJECT/SERVICE/VOLUME)' -r -F
complete -c berth -n "__fish_berth_using_subcommand backup; and __fish_seen_subcommand_from prune" -l color -d 'When to color output' -r -f -a "auto\t''
always\t''
never\t''"
complete -c berth -n "__fish_berth_using_subcommand backup; and __fish_seen_subcommand_from prune" -l dry-run -d 'Show what would go; delete nothing'
complete -c berth -n "__fish_berth_using_subcommand backup; and __fish_seen_subcommand_from prune" -s h -l help -d 'Print help'
complete -c berth -n "__fish_berth_using_subcommand backup; and __fish_seen_subcommand_from prune" -s V -l version -d 'Print version'
complete -c berth -n "__fish_berth_using_subcommand backup; and __fish_seen_subcommand_from exporter" -s f -l file -d 'Spec file' -r -F
complete -c berth -n "__fish_berth_using_subcommand backup; and __fish_seen_subcommand_from exporter" -s e -l env -d 'Environment whose overlay to apply' -r
complete -c berth -n "__fish_berth_using_subcommand backup; and __fish_seen_subcommand_from exporter" -l from -d 'The server\'s connection URL (default: see below)' -r
complete -c berth -n "__fish_berth_using_subcommand backup; and __fish_seen_subcommand_from exporter" -s j -l jobs -d 'Parallel jobs for dumps, restores and compression (default: CPUs)' -r
complete -c berth -n "__fish_berth_using_subcommand backup; and __fish_seen_subcommand_from exporter" -l work-dir -d 'Scratch space for staging and scratch servers (default: in $TMPDIR)' -r -F
complete -c berth -n "__fish_berth_using_subcommand backup; and __fish_seen_subcommand_from exporter" -l dir -d 'A volume\'s directory (default: berth up\'s, else the systemd target\'s /var/lib/PROJECT/SERVICE/VOLUME)' -r -F
complete -c berth -n "__fish_berth_using_subcommand backup; and __fish_seen_subcommand_from exporter" -l listen -d 'Address to listen on (the rendered Prometheus config scrapes 127.0.0.1:9188)' -r
complete -c berth -n "__fish_berth_using_subcommand backup; and __fish_seen_subcommand_from exporter" -l color -d 'When to color output' -r -f -a "auto\t''
always\t''
never\t''"
complete -c berth -n "__fish_berth_using_subcommand backup; and __fish_seen_subcommand_from exporter" -s h -l help -d 'Print help'
complete -c berth -n "__fish_berth_using_subcommand backup; and __fish_seen_subcommand_from exporter" -s V -l version -d 'Print version'
complete -c berth -n "__fish_berth_using_subcommand backup; and __fish_seen_subcommand_from wal-ship" -s f -l file -d 'Spec file' -r -F
complete -c berth -n "__fish_berth_using_subcommand backup; and __fish_seen_subcommand_from wal-ship" -s e -l env -d 'Environment whose overlay to apply' -r
complete -c berth -n "__fish_berth_using_subcommand backup; and __fish_seen_subcommand_from wal-ship" -l from -d 'The server\'s connection URL (default: see below)' -r
complete -c berth -n "__fish_berth_using_subcommand backup; and __fish_seen_subcommand_from wal-ship" -s j -l jobs -d 'Parallel jobs for dumps, restores and compression (default: CPUs)' -r
complete -c berth -n "__fish_berth_using_subcommand backup; and __fish_seen_subcommand_from wal-ship" -l work-dir -d 'Scratch space for staging and scratch servers (default: in $TMPDIR)' -r -F
complete -c berth -n "__fish_berth_using_subcommand backup; and __fish_seen_subcommand_from wal-ship" -l dir -d 'A volume\'s directory (default: berth up\'s, else the systemd target\'s /var/lib/PROJECT/SERVICE/VOLUME)' -r -F
complete -c berth -n "__fish_berth_using_subcommand backup; and __fish_seen_subcommand_from wal-ship" -l spool -d 'The directory archive_command copies segments into' -r -F
complete -c berth -n "__fish_berth_using_subcommand backup; and __fish_seen_subcommand_from wal-ship" -l color -d 'When to color output' -r -f -a "auto\t''
always\t''
never\t''"
complete -c berth -n "__fish_berth_using_subcommand backup; and __fish_seen_subcommand_from wal-ship" -l once -d 'One pass, then exit (default: every second until stopped)'
complete -c berth -n "__fish_berth_using_subcommand backup; and __fish_seen_subcommand_from wal-ship" -s h -l help -d 'Print help'
complete -c berth -n "__fish_berth_using_subcommand backup; and __fish_seen_subcommand_from wal-ship" -s V -l version -d 'Print version'
complete -c berth -n "__fish_berth_using_subcommand backup; and __fish_seen_subcommand_from help" -f -a "verify" -d 'Restore a backup into a scratch server, check its checksums and compare it with its manifest'
complete -c berth -n "__fish_berth_using_subcommand backup; and __fish_seen_subcommand_from help" -f -a "list" -d 'List backups: id, method, when, size, verified'
complete -c berth -n "__fish_berth_using_subcommand backup; and __fish_seen_subcommand_from help" -f -a "prune" -d 'Delete what the spec\'s retention does not keep; never the newest verified backup or WAL a kept base backup needs'
complete -c berth -n "__fish_berth_using_subcommand backup; and __fish_seen_subcommand_from help" -f -a "exporter" -d 'Serve the backups\' state as Prometheus metrics (newest verified backup, newest shipped WAL) for the rendered alerts'
complete -c berth -n "__fish_berth_using_subcommand backup; and __fish_seen_subcommand_from help" -f -a "wal-ship" -d 'Ship WAL segments from PostgreSQL\'s archive spool to the destination (`berth up` does this itself)'
complete -c berth -n "__fish_berth_using_subcommand backup; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c berth -n "__fish_berth_using_subcommand restore" -s f -l file -d 'Spec file' -r -F
complete -c berth -n "__fish_berth_using_subcommand restore" -s e -l env -d 'Environment whose overlay to apply' -r
complete -c berth -n "__fish_berth_using_subcommand restore" -l from -d 'The server\'s connection URL (default: see below)' -r
complete -c berth -n "__fish_berth_using_subcommand restore" -s j -l jobs -d 'Parallel jobs for dumps, restores and compression (default: CPUs)' -r
complete -c berth -n "__fish_berth_using_subcommand restore" -l work-dir -d 'Scratch space for staging and scratch servers (default: in $TMPDIR)' -r -F
complete -c berth -n "__fish_berth_using_subcommand restore" -l dir -d 'A volume\'s directory (default: berth up\'s, else the systemd target\'s /var/lib/PROJECT/SERVICE/VOLUME)' -r -F
complete -c berth -n "__fish_berth_using_subcommand restore" -l to-time -d 'Recover to this moment (`2026-11-22 10:14:00 UTC`, RFC 3339): PostgreSQL with physical backups' -r
complete -c berth -n "__fish_berth_using_subcommand restore" -l to -d 'Restore into this server instead of the dependency\'s own' -r
complete -c berth -n "__fish_berth_using_subcommand restore" -l color -d 'When to color output' -r -f -a "auto\t''
always\t''
never\t''"
complete -c berth -n "__fish_berth_using_subcommand restore" -l replace -d 'Swap the verified copy in for the live database, after a confirmation'
complete -c berth -n "__fish_berth_using_subcommand restore" -l yes -d 'Swap it in without asking (implies --replace)'
complete -c berth -n "__fish_berth_using_subcommand restore" -s h -l help -d 'Print help'
complete -c berth -n "__fish_berth_using_subcommand restore" -s V -l version -d 'Print version'
complete -c berth -n "__fish_berth_using_subcommand doctor" -s f -l file -d 'Spec file, as kubectl and helm take it' -r -F
complete -c berth -n "__fish_berth_using_subcommand doctor" -s e -l env -d 'Environment whose overlay to apply' -r
complete -c berth -n "__fish_berth_using_subcommand doctor" -l endpoint -d 'Check SERVICE at URL (http://host:port) instead of in a running `berth up`; repeatable' -r
complete -c berth -n "__fish_berth_using_subcommand doctor" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''"
complete -c berth -n "__fish_berth_using_subcommand doctor" -l color -d 'When to color output' -r -f -a "auto\t''
always\t''
never\t''"
complete -c berth -n "__fish_berth_using_subcommand doctor" -s h -l help -d 'Print help'
complete -c berth -n "__fish_berth_using_subcommand doctor" -s V -l version -d 'Print version'
complete -c berth -n "__fish_berth_using_subcommand schema" -l color -d 'When to color output' -r -f -a "auto\t''
always\t''
never\t''"
complete -c berth -n "__fish_berth_using_subcommand schema" -s h -l help -d 'Print help'
complete -c berth -n "__fish_berth_using_subcommand schema" -s V -l version -d 'Print version'
complete -c berth -n "__fish_berth_using_subcommand completions" -l color -d 'When to color output' -r -f -a "auto\t''
always\t''
never\t''"
complete -c berth -n "__fish_berth_using_subcommand completions" -s h -l help -d 'Print help'
complete -c berth -n "__fish_berth_using_subcommand completions" -s V -l version -d 'Print version'
complete -c berth -n "__fish_berth_using_subcommand help; and not __fish_seen_subcommand_from init validate plan render check diff up edge status down deploy promote rollback run logs backup restore doctor schema completions help" -f -a "init" -d 'Write a commented starter berth.yaml, detecting what it can'
complete -c berth -n "__fish_berth_using_subcommand help; and not __fish_seen_subcommand_from init validate plan render check diff up edge status down deploy promote rollback run logs backup restore doctor schema completions help" -f -a "validate" -d 'Check a spec and report every problem with file, line and column'
complete -c berth -n "__fish_berth_using_subcommand help; and not __fish_seen_subcommand_from init validate plan render check diff up edge status down deploy promote rollback run logs backup restore doctor schema completions help" -f -a "plan" -d 'Print the resolved plan of one environment: what every target deploys'
complete -c berth -n "__fish_berth_using_subcommand help; and not __fish_seen_subcommand_from init validate plan render check diff up edge status down deploy promote rollback run logs backup restore doctor schema completions help" -f -a "render" -d 'Render deployment files for one or more targets'
complete -c berth -n "__fish_berth_using_subcommand help; and not __fish_seen_subcommand_from init validate plan render check diff up edge status down deploy promote rollback run logs backup restore doctor schema completions help" -f -a "check" -d 'Check deployment files for production readiness: a berth spec and what it renders, and hand-written Kubernetes manifests, compose files, Dockerfiles, nginx configs, Prometheus configs and rules, and systemd units, as one graph'
complete -c berth -n "__fish_berth_using_subcommand help; and not __fish_seen_subcommand_from init validate plan render check diff up edge status down deploy promote rollback run logs backup restore doctor schema completions help" -f -a "diff" -d 'Show how the files in the output directory differ from what the spec renders'
complete -c berth -n "__fish_berth_using_subcommand help; and not __fish_seen_subcommand_from init validate plan render check diff up edge status down deploy promote rollback run logs backup restore doctor schema completions help" -f -a "up" -d 'Run the stack on this machine: every replica supervised, behind the berth edge'
complete -c berth -n "__fish_berth_using_subcommand help; and not __fish_seen_subcommand_from init validate plan render check diff up edge status down deploy promote rollback run logs backup restore doctor schema completions help" -f -a "edge" -d 'Run the berth edge on its own, in front of services reached by name: the gateway the kubernetes and compose targets render with `gateway: true`'
complete -c berth -n "__fish_berth_using_subcommand help; and not __fish_seen_subcommand_from init validate plan render check diff up edge status down deploy promote rollback run logs backup restore doctor schema completions help" -f -a "status" -d 'Show every replica: pid, port, health, restarts and version'
complete -c berth -n "__fish_berth_using_subcommand help; and not __fish_seen_subcommand_from init validate plan render check diff up edge status down deploy promote rollback run logs backup restore doctor schema completions help" -f -a "down" -d 'Stop a stack started by `berth up`'
complete -c berth -n "__fish_berth_using_subcommand help; and not __fish_seen_subcommand_from init validate plan render check diff up edge status down deploy promote rollback run logs backup restore doctor schema completions help" -f -a "deploy" -d 'Roll out a new version with no failed request: start, gate on readiness, switch, drain'
complete -c berth -n "__fish_berth_using_subcommand help; and not __fish_seen_subcommand_from init validate plan render check diff up edge status down deploy promote rollback run logs backup restore doctor schema completions help" -f -a "promote" -d 'Send every request to a waiting canary'
complete -c berth -n "__fish_berth_using_subcommand help; and not __fish_seen_subcommand_from init validate plan render check diff up edge status down deploy promote rollback run logs backup restore doctor schema completions help" -f -a "rollback" -d 'Drop a waiting canary, or return a service to the version before its last deploy'
complete -c berth -n "__fish_berth_using_subcommand help; and not __fish_seen_subcommand_from init validate plan render check diff up edge status down deploy promote rollback run logs backup restore doctor schema completions help" -f -a "run" -d 'Run one of the spec\'s jobs now, in the running stack, with its service\'s settings and version'
complete -c berth -n "__fish_berth_using_subcommand help; and not __fish_seen_subcommand_from init validate plan render check diff up edge status down deploy promote rollback run logs backup restore doctor schema completions help" -f -a "logs" -d 'Print the services\' logs, merged and prefixed'
complete -c berth -n "__fish_berth_using_subcommand help; and not __fish_seen_subcommand_from init validate plan render check diff up edge status down deploy promote rollback run logs backup restore doctor schema completions help" -f -a "backup" -d 'Back up dependencies; list, verify and prune their backups'
complete -c berth -n "__fish_berth_using_subcommand help; and not __fish_seen_subcommand_from init validate plan render check diff up edge status down deploy promote rollback run logs backup restore doctor schema completions help" -f -a "restore" -d 'Restore a backup into a scratch database, verify it, then swap it in'
complete -c berth -n "__fish_berth_using_subcommand help; and not __fish_seen_subcommand_from init validate plan render check diff up edge status down deploy promote rollback run logs backup restore doctor schema completions help" -f -a "doctor" -d 'Check a running deployment against its spec: health, replicas, dependencies, certificates, disk, backups, WAL, secrets, drift'
complete -c berth -n "__fish_berth_using_subcommand help; and not __fish_seen_subcommand_from init validate plan render check diff up edge status down deploy promote rollback run logs backup restore doctor schema completions help" -f -a "schema" -d 'Print the JSON Schema of berth.yaml, for editors and CI'
complete -c berth -n "__fish_berth_using_subcommand help; and not __fish_seen_subcommand_from init validate plan render check diff up edge status down deploy promote rollback run logs backup restore doctor schema completions help" -f -a "completions" -d 'Print a shell completion script'
complete -c berth -n "__fish_berth_using_subcommand help; and not __fish_seen_subcommand_from init validate plan render check diff up edge status down deploy promote rollback run logs backup restore doctor schema completions help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c berth -n "__fish_berth_using_subcommand help; and __fish_seen_subcommand_from backup" -f -a "verify" -d 'Restore a backup into a scratch server, check its checksums and compare it with its manifest'
complete -c berth -n "__fish_berth_using_subcommand help; and __fish_seen_subcommand_from backup" -f -a "list" -d 'List backups: id, method, when, size, verified'
complete -c berth -n "__fish_berth_using_subcommand help; and __fish_seen_subcommand_from backup" -f -a "prune" -d 'Delete what the spec\'s retention does not keep; never the newest verified backup or WAL a kept base backup needs'
complete -c berth -n "__fish_berth_using_subcommand help; and __fish_seen_subcommand_from backup" -f -a "exporter" -d 'Serve the backups\' state as Prometheus metrics (newest verified backup, newest shipped WAL) for the rendered alerts'
complete -c berth -n "__fish_berth_using_subcommand help; and __fish_seen_subcommand_from backup" -f -a "wal-ship" -d 'Ship WAL segments from PostgreSQL\'s archive spool to the destination (`berth up` does this itself)'
