"""``vfbench embed CHECKPOINT MANIFEST --cache CACHE [--split test] --out DIR``."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("embed")
    def embed_cmd(
        checkpoint: Path = typer.Argument(..., help="Checkpoint (best.pt / last.pt)."),
        manifest: Path = typer.Argument(..., help="Manifest folder."),
        cache: Path = typer.Option(..., "--cache", help="Preprocessing cache folder."),
        out: Path = typer.Option(
            ..., "--out", "-o", help="Output folder for voices.npz, faces.npz."
        ),
        split: str = typer.Option("test", "--split", help="Split to embed."),
        device: str = typer.Option("cpu", "--device", help="cpu or cuda[:N]."),
    ) -> None:
        """Write DIR/voices.npz and DIR/faces.npz (vfbench Embeddings) for a split."""
        from vfbench.methods import get_method
        from vfbench.train.embed import embed_manifest

        voices, faces = embed_manifest(
            checkpoint, manifest, cache, split, device, methods=get_method
        )
        out.mkdir(parents=True, exist_ok=True)
        voices.save(out / "voices.npz")
        faces.save(out / "faces.npz")
        typer.echo(
            f"wrote {out / 'voices.npz'} ({len(voices)} x {voices.dim}) and "
            f"{out / 'faces.npz'} ({len(faces)} x {faces.dim})"
        )
