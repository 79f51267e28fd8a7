"""Settings come from LEDGER_ variables, and a wrong one is named."""

from __future__ import annotations

from pathlib import Path

import pytest

from application.settings import Settings, SettingsError
from domain.commands import SupplementPolicy


def test_unset_variables_give_the_embedded_defaults() -> None:
    settings = Settings.from_environ({})
    assert settings.embedded and settings.database_url is None
    assert settings.supplement_policy is SupplementPolicy.RESTART
    assert settings.signing_key_path == settings.data_dir / "signing.key"


def test_variables_fill_their_settings() -> None:
    settings = Settings.from_environ(
        {
            "LEDGER_DATABASE_URL": "postgresql://u:p@db/ledger",
            "LEDGER_DATA_DIR": "/srv/ledger",
            "LEDGER_SUPPLEMENT_POLICY": "extend",
            "LEDGER_BATCH_LIMIT": "250",
            "LEDGER_PUBLIC_RATE_LIMIT_PER_MINUTE": "0",
            "OTHER": "ignored",
        }
    )
    assert settings.database_url == "postgresql://u:p@db/ledger" and not settings.embedded
    assert settings.data_dir == Path("/srv/ledger")
    assert settings.supplement_policy is SupplementPolicy.EXTEND
    assert settings.batch_limit == 250
    assert settings.public_rate_limit_per_minute == 0


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("LEDGER_SUPPLEMENT_POLICY", "pause"),
        ("LEDGER_BATCH_LIMIT", "-1"),
        ("LEDGER_POOL_SIZE", "many"),
        ("LEDGER_CHECKPOINT_EVERY_SECONDS", "soon"),
        ("LEDGER_TRUSTED_PROXIES", "10.0.0.1, proxy.local"),
        ("LEDGER_TRUSTED_PROXIES", "10.0.0.0/33"),
    ],
)
def test_a_wrong_value_is_refused_naming_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_environ({name: value})


def test_witnesses_are_urls_with_their_verifier_keys() -> None:
    from application.transparency.cosignature import (  # noqa: PLC0415
        CosignatureSigner,
        generate_cosigner,
    )

    keys = [
        CosignatureSigner.from_key(generate_cosigner(f"witness.example/w{n}")).verifier().vkey()
        for n in (1, 2)
    ]
    text = f"https://w1.example/ {keys[0]};\n  http://10.0.0.7:8100 {keys[1]}\n"
    witnesses = Settings.from_environ({"LEDGER_WITNESSES": text}).witnesses
    assert [(w.url, w.name) for w in witnesses] == [
        ("https://w1.example/", keys[0]),
        ("http://10.0.0.7:8100", keys[1]),
    ]
    assert witnesses[0].add_checkpoint_url() == "https://w1.example/add-checkpoint"
    with pytest.raises(SettingsError, match="LEDGER_WITNESSES: witness 2"):
        Settings.from_environ({"LEDGER_WITNESSES": f"https://w1.example/ {keys[0]}; {keys[1]}"})
    with pytest.raises(SettingsError, match="0x04"):
        log_key = "a.example+12345678+" + "A" * 44  # not a witness key
        Settings.from_environ({"LEDGER_WITNESSES": f"https://w1.example/ {log_key}"})


def test_no_proxy_is_trusted_unless_named() -> None:
    assert Settings.from_environ({}).trusted_proxies == ()
    named = Settings.from_environ({"LEDGER_TRUSTED_PROXIES": " 10.0.0.5, 10.1.2.3/8 ,::1,"})
    assert named.trusted_proxies == ("10.0.0.5", "10.0.0.0/8", "::1")
