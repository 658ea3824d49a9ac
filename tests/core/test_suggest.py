from audit.core.suggest import close_matches, did_you_mean


def test_case_only_difference_wins() -> None:
    assert close_matches("clo-01", ["CLO-02", "CLO-01"]) == ["CLO-01"]


def test_equally_close_matches_are_all_offered_and_no_more() -> None:
    assert close_matches("N2 - Suport", ["N1 - Support", "N2 - Support", "Monitoring"]) == ["N2 - Support"]
    assert close_matches("zzz", ["closure", "intake"]) == []


def test_wording() -> None:
    assert did_you_mean(["a", "b"]) == "did you mean 'a' or 'b'?"
