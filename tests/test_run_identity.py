"""``canonical_config``: what makes two configs the same run."""

import copy

from medseg.run_identity import canonical_config


def test_folder_and_spelling_of_attention_do_not_count_but_options_do():
    a = {"seed_everything": 0, "trainer": {"max_epochs": 40, "default_root_dir": "runs/a"},
         "model": {"network": {"name": "quicknat", "attention": {"name": "SCSE", "aggregation": "add"},
                               "placement": {"enc1": {"name": "cse", "reduction": 2}, "dec1": None}}}}
    before = copy.deepcopy(a)
    b = copy.deepcopy(a)
    b["trainer"]["default_root_dir"] = "elsewhere/b"
    b["model"]["network"]["attention"] = "scse"
    b["model"]["network"]["placement"]["enc1"] = "cse"
    assert canonical_config(a) == canonical_config(b)
    assert a == before  # the caller's config is left alone
    assert canonical_config(a)["model"]["network"]["placement"] == {"enc1": "cse", "dec1": None}
    b["model"]["network"]["attention"] = {"name": "scse", "aggregation": "max"}
    assert canonical_config(a) != canonical_config(b)
    b["model"]["network"]["attention"] = "scse"
    b["trainer"]["max_epochs"] = 30
    assert canonical_config(a) != canonical_config(b)


def test_configs_without_trainer_or_model_sections():
    assert canonical_config({"trainer": None, "data": {"fold": 1}}) == {"trainer": None, "data": {"fold": 1}}
    assert canonical_config({}) == {}
