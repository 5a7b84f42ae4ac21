# Two regenerations of every fixture file into results/determinism/run1 and run2, by the
# very rules that build the fixtures (same commands, same params, same code inputs); only
# the output location changes. The comparison is the target rule `determinism_check` in
# the Snakefile.


use rule generate_stream as regenerate_stream with:
    output:
        "results/determinism/{run}/{bundle}/{stream}_{suffix}",
    log:
        "results/logs/determinism/{run}/generate_stream/{bundle}/{stream}_{suffix}.log",


use rule write_ground_truth as regenerate_ground_truth with:
    output:
        "results/determinism/{run}/{bundle}/ground_truth.json",
    log:
        "results/logs/determinism/{run}/write_ground_truth/{bundle}.log",


use rule write_manifest as regenerate_manifest with:
    input:
        streams=stream_files("results/determinism/{run}"),
        truth="results/determinism/{run}/{bundle}/ground_truth.json",
        request=BUNDLE_REQUEST,
        code=bundle_code,
    output:
        "results/determinism/{run}/{bundle}/manifest.json",
    log:
        "results/logs/determinism/{run}/write_manifest/{bundle}.log",


use rule write_index as regenerate_index with:
    output:
        "results/determinism/{run}/index.json",
    log:
        "results/logs/determinism/{run}/write_index.log",
