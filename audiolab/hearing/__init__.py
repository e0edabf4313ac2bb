"""Hearing: chains of stages (hearing aid, hearing-loss and cochlear-implant simulation), batch."""

from audiolab.hearing._chain import (
    Chain,
    ChainSpec,
    GainStage,
    StageSpec,
    build_chain,
    load_chain,
    register_stage,
    stage_types,
    write_chain,
)

__all__ = [
    "Chain",
    "ChainSpec",
    "GainStage",
    "StageSpec",
    "build_chain",
    "load_chain",
    "register_stage",
    "stage_types",
    "write_chain",
]
