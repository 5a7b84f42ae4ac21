# One manifest per bundle, written last: sha256, bytes, line and record counts of the
# stream files and the label on disk, plus the request that produced them.


rule write_manifest:
    input:
        streams=stream_files("tests/fixtures/mock_incidents"),
        truth="tests/fixtures/mock_incidents/{bundle}/ground_truth.json",
        request=BUNDLE_REQUEST,
        code=bundle_code,
    output:
        "tests/fixtures/mock_incidents/{bundle}/manifest.json",
    params:
        request=bundle_request,
        bundle=bundle_dir,
    log:
        "results/logs/write_manifest/{bundle}.log",
    conda:
        "../envs/generator.yaml"
    shell:
        "python -m rca.seed.mock_incident_generator write-manifest {params.request}"
        " --bundle {params.bundle:q} > {log:q} 2>&1"
