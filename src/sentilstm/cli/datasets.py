"""`sentilstm datasets list | download`."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table as RichTable

from sentilstm.cli.common import app, friendly, out, setup_logging
from sentilstm.cli.options import VerboseOpt

datasets_app = typer.Typer(no_args_is_help=True, help="Named public datasets: list and download.")
app.add_typer(datasets_app, name="datasets")


@datasets_app.command("list")
@friendly
def datasets_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object per dataset.")] = False,
) -> None:
    """Show every named dataset, its official metric and whether it is in the cache."""
    from sentilstm.data.datasets import is_cached, list_datasets
    from sentilstm.data.download import cache_dir

    rows = [(info, is_cached(info.name)) for info in list_datasets()]
    if as_json:
        for info, cached in rows:
            print(
                json.dumps(
                    {
                        "name": info.name,
                        "description": info.description,
                        "metric": info.metric,
                        "cached": cached,
                        "citation": info.citation,
                    }
                )
            )
        return
    table = RichTable(title=f"datasets (cache: {cache_dir()})")
    for name in ("name", "description", "metric", "cached"):
        table.add_column(name)
    for info, cached in rows:
        table.add_row(info.name, info.description, info.metric, "yes" if cached else "no")
    out.print(table)


@datasets_app.command("download")
@friendly
def datasets_download(
    names: Annotated[list[str], typer.Argument(help="Dataset names (see `sentilstm datasets list`).")],
    verbose: VerboseOpt = True,
) -> None:
    """Download, verify and prepare datasets in the cache (honours SENTILSTM_CACHE and SENTILSTM_MIRROR)."""
    setup_logging(verbose)
    from sentilstm.data.datasets import dataset_info, download_dataset

    for name in names:
        dataset_info(name)  # unknown names fail before anything is downloaded
    for name in names:
        folder = download_dataset(name)
        out.print(f"{name}: ready in {folder}")
