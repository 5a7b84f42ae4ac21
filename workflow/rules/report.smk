# Look rather than read: one PNG timeline per bundle (`rca-mock plot`), flagged for the
# Snakemake report. `snakemake --report report.html` (after `all`) writes a self-contained
# HTML page: the plots under "Bundle timelines", one subcategory per scenario, each with
# the caption workflow/report/plot_bundle.rst (what happens, what to look for: declared
# by the scenario's module, rca/seed/scenarios/).
#
# The plots are scratch output in results/ (git-ignored), never inside the fixtures. A
# plot reads its bundle's files on disk and depends on the plotting code only, so it is
# redrawn when its bundle (label included) or rca/viz changes.


rule plot_bundle:
    input:
        streams=stream_files(FIXTURES),
        truth=f"{FIXTURES}/{{bundle}}/ground_truth.json",
        manifest=f"{FIXTURES}/{{bundle}}/manifest.json",
        code=PLOT_CODE,
    output:
        report(
            "results/plots/{bundle}.png",
            caption="../report/plot_bundle.rst",
            category="Bundle timelines",
            subcategory=bundle_scenario,
            labels=plot_labels,
        ),
    params:
        bundle=plot_bundle_dir,
        scenario=bundle_scenario,
        happens=caption_happens,
        look_for=caption_look_for,
    log:
        "results/logs/plot_bundle/{bundle}.log",
    conda:
        "../envs/viz.yaml"
    shell:
        "python -m rca.viz plot {params.bundle:q} --out {output:q} > {log:q} 2>&1"
