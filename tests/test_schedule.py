import pytest

from dipcore import schedule


def test_parse_and_lookup():
    s = schedule.parse("0:0.01,30:0.001,60:0.0001")
    assert s.steps == ((0, 0.01), (30, 0.001), (60, 0.0001))
    assert [s.lr(e) for e in (0, 29, 30, 59, 60, 89)] == [0.01, 0.01, 0.001, 0.001, 0.0001, 0.0001]
    assert str(s) == "0:0.01,30:0.001,60:0.0001"
    assert schedule.parse(" 0:1e-3 , 450:1e-4 ").lr(450) == 1e-4


@pytest.mark.parametrize("text,why", [
    ("30:0.001,0:0.01", "first key"),
    ("0:0.01,60:0.001,30:0.0001", "not strictly increasing"),
    ("0:0.01,30:0.001,30:0.0001", "not strictly increasing"),
    ("10:0.01", "first key"),
    ("0:-0.01", "positive"),
    ("0:0", "positive"),
    ("0:nan", "positive"),
    ("garbage", "not 'epoch:lr'"),
    ("0:0.01,x:0.1", "integer epoch"),
    ("0:0.01,", "not 'epoch:lr'"),
    ("", "empty"),
    ("-5:0.1", "negative epoch"),
])
def test_malformed_schedules_name_the_string(text, why):
    with pytest.raises(ValueError, match="malformed LR schedule") as e:
        schedule.parse(text)
    assert repr(text) in str(e.value) and why in str(e.value)


def test_check_epochs():
    schedule.parse("0:0.01,60:0.001").check_epochs(90)
    with pytest.raises(ValueError, match="only 50 epochs"):
        schedule.parse("0:0.01,60:0.001").check_epochs(50)


def test_rescale():
    assert schedule.rescale("0:0.01,30:0.001,60:0.0001", 90, 9) == "0:0.01,3:0.001,6:0.0001"
    assert schedule.rescale("0:0.01,300:0.001,600:0.0001", 900, 3) == "0:0.01,1:0.001,2:0.0001"
    assert schedule.rescale("0:0.01,30:0.001,60:0.0001", 90, 2) == "0:0.01,1:0.001"
    assert schedule.rescale("0:0.001,45:0.0001", 90, 2) == "0:0.001,1:0.0001"
    assert schedule.rescale("0:0.01,30:0.001,60:0.0001", 90, 1) == "0:0.01"
