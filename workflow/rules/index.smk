# The fixture index, so consumers find bundles by scenario: bundle id -> scenario, seed,
# time anchor, path. Its text is prepared at parse time (the request file INDEX_REQUEST,
# rewritten only when it changes), so only a change to one of those fields or to the set
# of bundles re-runs it. It then also removes the bundle directories under the fixture
# root that the configuration no longer produces (e.g. after an edit changed an id): the
# committed fixtures are exactly the configured bundles.


rule write_index:
    input:
        text=INDEX_REQUEST,
    output:
        "tests/fixtures/mock_incidents/index.json",
    params:
        bundles=configured_bundles,
        bundle_pattern=bundle_id_pattern,
    log:
        "results/logs/write_index.log",
    conda:
        "../envs/generator.yaml"
    script:
        "../scripts/write_index.py"
