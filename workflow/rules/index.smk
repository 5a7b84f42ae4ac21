# The fixture index, so consumers find bundles by scenario: bundle id -> scenario, seed,
# time anchor, path. Built from params alone (no bundle files as inputs), so only a
# change to one of those fields (or to the set of bundles) rewrites it.


rule write_index:
    output:
        "tests/fixtures/mock_incidents/index.json",
    params:
        text=index_text,
    log:
        "results/logs/write_index.log",
    conda:
        "../envs/generator.yaml"
    script:
        "../scripts/write_index.py"
