# One label per bundle. It regenerates every stream in memory to find its evidence lines,
# so it needs no stream files and runs beside the stream jobs; its params include the
# thresholds, and its code inputs every renderer.


rule write_ground_truth:
    input:
        request=BUNDLE_REQUEST,
        code=bundle_code,
    output:
        "tests/fixtures/mock_incidents/{bundle}/ground_truth.json",
    params:
        request=bundle_request,
    log:
        "results/logs/write_ground_truth/{bundle}.log",
    conda:
        "../envs/generator.yaml"
    shell:
        "python -m rca.seed.mock_incident_generator write-ground-truth {params.request}"
        " --out {output:q} > {log:q} 2>&1"
