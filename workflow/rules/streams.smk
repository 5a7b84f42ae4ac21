# One job per bundle x stream. Params carry the request without its label-only fields
# (thresholds), and the inputs are the code the stream's bytes depend on, so a threshold
# edit leaves streams alone and a renderer edit re-runs only that renderer's streams.


rule generate_stream:
    input:
        request=STREAM_REQUEST,
        code=stream_code,
    output:
        "tests/fixtures/mock_incidents/{bundle}/{stream}_{suffix}",
    params:
        request=stream_request,
        stream=stream_name,
    log:
        "results/logs/generate_stream/{bundle}/{stream}_{suffix}.log",
    conda:
        "../envs/generator.yaml"
    shell:
        "python -m rca.seed.mock_incident_generator generate-stream {params.request}"
        " --stream {params.stream} --out {output:q} > {log:q} 2>&1"
