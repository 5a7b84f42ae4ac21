"""Write the fixture index prepared at parse time (``rca.config.fixture_index``)."""

from pathlib import Path

out = Path(snakemake.output[0])
out.write_text(snakemake.params.text, encoding="utf-8")
Path(snakemake.log[0]).write_text(f"wrote {out}\n", encoding="utf-8")
