# Suites (config/suites.yaml): named sets of bundles, scenarios x seeds x noise profiles,
# built under results/suites/<suite>/<noise_profile>/<bundle_id>/ (git-ignored) with an
# index. The library's bundle id comes from (scenario, seed, time anchor) only, so the
# k-th noise profile of a suite runs k days after the declared anchor: ids are unique
# within a suite (rca/suites.py), and each noise level has its own directory.
#
#   snakemake --cores 2 suite --config suite=large
#
# ONE job per bundle, the whole bundle in one generator pass (about 0.3 s, mostly Python
# start-up): per-job overhead, on a cluster above all, dwarfs the work, so a suite is not
# split per stream like the fixtures. Validation happens once for the whole suite, in
# the index job: in-process it costs ~20 ms per bundle (regeneration included), where a
# `validate` process per bundle would double the cost of every bundle job. If a bundle
# does not validate, the index job fails, naming it and each problem, and writes no index.


wildcard_constraints:
    suite=r"[a-z0-9][a-z0-9_-]*",
    noise="|".join(NOISE_PROFILES),


# Cheap bookkeeping, run by the main Snakemake process even under a cluster executor.
localrules:
    suite,
    suite_index,


rule suite:
    input:
        suite_target,


rule suite_bundle:
    input:
        code=suite_bundle_code,
    output:
        suite_bundle_files(),
    params:
        request=suite_bundle_request,
        parent=suite_bundle_parent,
    log:
        "results/logs/suites/{suite}/{noise}/{bundle}.log",
    conda:
        "../envs/generator.yaml"
    # One core per bundle unless a profile says otherwise (set-threads: suite_bundle=N):
    # the generator renders streams in N processes only when told, so jobs never
    # oversubscribe the cores Snakemake hands out.
    threads: 1
    shell:
        "python -m rca.seed.mock_incident_generator generate {params.request}"
        " --workers {threads} --out {params.parent:q} > {log:q} 2>&1"


# The index, after every bundle validates: identity of each bundle plus the checksums
# and counts of its manifest on disk, as index.csv (one row per bundle) and index.json.
# params.spec (the suite's bundles, as the workflow sees them) is there so that a change
# to the suite re-runs the index.
rule suite_index:
    input:
        manifests=suite_manifests,
    output:
        csv="results/suites/{suite}/index.csv",
        json="results/suites/{suite}/index.json",
    params:
        spec=suite_index_spec,
        suites=SUITES_FILE,
    log:
        "results/logs/suites/{suite}/index.log",
    conda:
        "../envs/generator.yaml"
    shell:
        "python -m rca.suites index {wildcards.suite} --file {params.suites:q}"
        " --csv {output.csv:q} --json {output.json:q} > {log:q} 2>&1"
