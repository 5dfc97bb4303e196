"""The lessons' one-line self-checks: each must say yes to a right answer and no to a wrong one."""

from embedlib import exercises
from embedlib.models import dot_with_bias


def test_check_compares_numbers_within_the_tolerance(capsys):
    assert exercises.check(0.8712, 0.871, tolerance=0.001)
    assert not exercises.check(0.9, 0.871, tolerance=0.001, hint="look at the floor again")
    out = capsys.readouterr().out
    assert "✅" in out and "look at the floor again" in out


def test_same_outputs_needs_the_same_model_and_the_same_weight_penalty(tiny_synthetic, capsys):
    _, prep = tiny_synthetic

    def bias_model(**kwargs):
        return dot_with_bias(prep.n_users, prep.n_movies, embedding_dim=4, seed=1, **kwargs)

    reference = bias_model(weight_decay=1e-4, rating_range=(0.0, 5.5))
    assert exercises.check_same_outputs(bias_model(weight_decay=1e-4, rating_range=(0.0, 5.5)), reference, prep)
    # no weight decay: the same outputs for the same weights, but not the model the exercise asks for
    assert not exercises.check_same_outputs(bias_model(rating_range=(0.0, 5.5)), reference, prep)
    assert "weight penalty" in capsys.readouterr().out
    assert not exercises.check_same_outputs(bias_model(weight_decay=1e-4, rating_range=(0.5, 5.0)), reference, prep)
