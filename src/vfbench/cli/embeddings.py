"""``vfbench embeddings``: bring a model's vectors into the evaluation format (step 0).

Thin: :func:`vfbench.evaluate.embeddings.import_vectors` does the reading and checking.
"""

from __future__ import annotations

from pathlib import Path

import typer


def embeddings_import(
    vectors: Path = typer.Argument(
        ..., help="Vectors: .npy (N, D), .npz, .csv/.tsv (numeric columns), .pt/.pth."
    ),
    modality: str = typer.Option(..., "--modality", "-m", help="voice | face"),
    out: Path = typer.Option(..., "--out", "-o", help="Embeddings file (.npz) to write."),
    ids: Path | None = typer.Option(
        None, "--ids", help="Item ids, one per line in row order (or 'id,identity' rows)."
    ),
    identities: Path | None = typer.Option(
        None, "--identities", help="Identities: one per line in row order, or 'id,identity' rows."
    ),
    manifest: Path | None = typer.Option(
        None, "--manifest", help="Take identities from this manifest's items (and check ids)."
    ),
    identity_from_path: bool = typer.Option(
        False, "--identity-from-path", help="Identity = first path component of each id."
    ),
    model: str = typer.Option("", "--model", help="Model name recorded in the file's meta."),
) -> None:
    """Turn your vectors + ids + identities into a vfbench embeddings file."""
    from vfbench.errors import EvaluationError
    from vfbench.evaluate.embeddings import check_against_manifest, import_vectors

    if modality not in ("voice", "face"):
        raise EvaluationError(f"--modality must be voice or face, got {modality!r}")
    ident: object = identities
    man = None
    if manifest is not None:
        if identities is not None or identity_from_path:
            raise EvaluationError(
                "give identities one way: --identities, --manifest or --identity-from-path"
            )
        from vfbench.data.manifest import load_manifest

        man = load_manifest(manifest)
        items = man.voices if modality == "voice" else man.faces
        ident = {it.id: it.identity for it in items}
    emb = import_vectors(
        vectors,
        modality,
        ids=ids,
        identities=ident,  # type: ignore[arg-type]
        identity_from_path=identity_from_path,
        meta={"model": model} if model else None,
    )
    if man is not None:
        check_against_manifest(emb, man, str(vectors))
    emb.save(out)
    n_ident = len(set(emb.identities.tolist()))
    typer.echo(f"wrote {out}: {len(emb)} {modality} vectors of dim {emb.dim}, {n_ident} identities")


def register(app: typer.Typer) -> None:
    """Add the ``embeddings`` group (import) to the main CLI."""
    emb_app = typer.Typer(
        name="embeddings",
        help="Embeddings files: import a model's vectors for evaluation.",
        no_args_is_help=True,
    )
    emb_app.command("import")(embeddings_import)
    app.add_typer(emb_app, name="embeddings")
