"""Business calendars: concrete DST, holiday and year-end cases in several zones."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from leadflow.business_time import BusinessCalendar, CalendarResolver, calendar_for, load_calendars
from leadflow.errors import ConfigError, ValidationError
from leadflow.model import Lead

NY = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
SYDNEY = ZoneInfo("Australia/Sydney")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")
KOLKATA = ZoneInfo("Asia/Kolkata")

H = timedelta(hours=1)


def always(zone: str) -> BusinessCalendar:
    return BusinessCalendar(zone=zone, hours={"mon-sun": "00:00-24:00"})


def day_length(calendar: BusinessCalendar, day: date) -> timedelta:
    return sum(
        (e.astimezone(UTC) - s.astimezone(UTC) for s, e in calendar.intervals(day)), timedelta()
    )


@pytest.mark.parametrize(
    ("zone", "day", "expected"),
    [
        ("America/New_York", date(2026, 3, 8), 23 * H),  # spring forward
        ("America/New_York", date(2026, 11, 1), 25 * H),  # fall back
        ("Europe/Berlin", date(2026, 3, 29), 23 * H),
        ("Europe/Berlin", date(2026, 10, 25), 25 * H),
        ("Australia/Sydney", date(2026, 4, 5), 25 * H),  # southern autumn: clocks go back
        ("Australia/Sydney", date(2026, 10, 4), 23 * H),
        ("Australia/Lord_Howe", date(2026, 4, 5), 24.5 * H),  # a 30-minute DST shift
        ("Australia/Lord_Howe", date(2026, 10, 4), 23.5 * H),
        ("America/Santiago", date(2026, 9, 6), 23 * H),  # midnight itself is skipped
        ("Asia/Kolkata", date(2026, 3, 29), 24 * H),  # +05:30, no DST
    ],
)
def test_a_round_the_clock_day_is_as_long_as_the_zone_says(
    zone: str, day: date, expected: timedelta
) -> None:
    calendar = always(zone)
    assert expected == day_length(calendar, day)
    start = datetime.combine(day, datetime.min.time(), tzinfo=ZoneInfo(zone))
    end = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=ZoneInfo(zone))
    assert expected == calendar.between(start, end)


def test_a_shift_starting_in_the_skipped_hour_starts_when_clocks_resume() -> None:
    ny = BusinessCalendar(zone="America/New_York", hours={"sun": ["01:30-01:45", "02:30-06:00"]})
    spans = [(s.isoformat(), e.isoformat()) for s, e in ny.intervals(date(2026, 3, 8))]
    assert spans == [
        ("2026-03-08T01:30:00-05:00", "2026-03-08T01:45:00-05:00"),
        ("2026-03-08T03:00:00-04:00", "2026-03-08T06:00:00-04:00"),
    ]


def test_a_shift_inside_the_repeated_hour_happens_twice() -> None:
    ny = BusinessCalendar(zone="America/New_York", hours={"sun": "01:30-01:45"})
    spans = [(s.isoformat(), e.isoformat()) for s, e in ny.intervals(date(2026, 11, 1))]
    assert spans == [
        ("2026-11-01T01:30:00-04:00", "2026-11-01T01:45:00-04:00"),
        ("2026-11-01T01:30:00-05:00", "2026-11-01T01:45:00-05:00"),
    ]
    assert timedelta(minutes=30) == day_length(ny, date(2026, 11, 1))


def test_sydney_easter_holiday_run_across_the_end_of_daylight_saving() -> None:
    # Good Friday 3 April to Easter Monday 6 April 2026; DST ends on Sunday 5 April.
    sydney = BusinessCalendar.weekdays(
        "Australia/Sydney", holidays=["2026-04-03", "2026-04-04", "2026-04-05", "2026-04-06"]
    )
    handoff = datetime(2026, 4, 2, 16, 0, tzinfo=SYDNEY)  # +11:00
    due = sydney.add(handoff, 8 * H)
    assert due.isoformat() == "2026-04-07T16:00:00+10:00"
    assert sydney.between(handoff, due) == 8 * H
    assert not sydney.is_open(datetime(2026, 4, 6, 10, 0, tzinfo=SYDNEY))
    assert datetime(2026, 4, 7, 9, 0, tzinfo=SYDNEY) == sydney.next_open(
        datetime(2026, 4, 3, 9, 0, tzinfo=SYDNEY)
    )


def test_berlin_split_shifts_across_spring_forward() -> None:
    berlin = BusinessCalendar(
        zone="Europe/Berlin", hours={"mon-fri": ["09:00-12:30", "13:30-18:00"]}
    )
    friday = datetime(2026, 3, 27, 17, 0, tzinfo=BERLIN)  # +01:00
    due = berlin.add(friday, 4 * H)
    assert due.isoformat() == "2026-03-30T12:00:00+02:00"
    # Lunch is not business time: 12:00-14:00 on Monday holds one hour of it.
    assert berlin.between(due, due + 2 * H) == H
    assert datetime(2026, 3, 30, 13, 30, tzinfo=BERLIN) == berlin.next_open(due + H)


def test_new_york_year_end_with_holidays() -> None:
    ny = BusinessCalendar.weekdays(
        "America/New_York", holidays=[date(2026, 12, 25), date(2027, 1, 1)]
    )
    new_years_eve = datetime(2026, 12, 31, 15, 0, tzinfo=NY)
    due = ny.add(new_years_eve, 16 * H)
    assert due.isoformat() == "2027-01-05T15:00:00-05:00"
    assert ny.between(new_years_eve, due) == 16 * H
    assert ny.between(due, new_years_eve) == -16 * H


def test_new_york_fall_back_weekend_does_not_change_business_time() -> None:
    ny = BusinessCalendar.weekdays("America/New_York")
    friday = datetime(2026, 10, 30, 13, 0, tzinfo=NY)  # -04:00
    due = ny.add(friday, 8 * H)
    assert due.isoformat() == "2026-11-02T13:00:00-05:00"
    assert timedelta(days=3, hours=1) == due.astimezone(UTC) - friday.astimezone(UTC)


def test_kolkata_half_hour_offset() -> None:
    kolkata = BusinessCalendar.weekdays("Asia/Kolkata", "09:30-18:30")
    at = datetime(2026, 6, 1, 3, 0, tzinfo=UTC)  # 08:30 IST
    assert not kolkata.is_open(at)
    assert kolkata.next_open(at).isoformat() == "2026-06-01T09:30:00+05:30"
    assert kolkata.add(at, timedelta(minutes=30)).isoformat() == "2026-06-01T10:00:00+05:30"


def test_lord_howe_overnight_shift_across_its_half_hour_dst_start() -> None:
    # 22:00-24:00 Saturday and 00:00-06:00 Sunday; clocks go from 02:00 to 02:30 on Sunday.
    lh = BusinessCalendar(
        zone="Australia/Lord_Howe", hours={"sat": "22:00-24:00", "sun": "00:00-06:00"}
    )
    start = datetime(2026, 10, 3, 22, 0, tzinfo=LORD_HOWE)
    assert timedelta(hours=7, minutes=30) == lh.between(start, start + timedelta(days=1))
    assert lh.add(start, 4.5 * H).isoformat() == "2026-10-04T03:00:00+11:00"


def test_add_of_zero_is_the_instant_itself_and_results_are_in_the_calendar_zone() -> None:
    ny = BusinessCalendar.weekdays("America/New_York")
    saturday = datetime(2026, 1, 3, 12, 0, tzinfo=UTC)
    assert saturday == ny.add(saturday, timedelta(0))
    assert ny.add(saturday, H).tzinfo == NY
    assert ny.add(saturday, H).isoformat() == "2026-01-05T10:00:00-05:00"


def test_add_days_is_due_at_the_close_of_the_nth_business_day() -> None:
    berlin = BusinessCalendar.weekdays("Europe/Berlin", holidays=["2026-12-24", "2026-12-25"])
    monday = datetime(2026, 12, 21, 10, 0, tzinfo=BERLIN)
    assert berlin.add_days(monday, 1).isoformat() == "2026-12-22T17:00:00+01:00"
    assert berlin.add_days(monday, 4).isoformat() == "2026-12-29T17:00:00+01:00"
    with pytest.raises(ValidationError, match="days"):
        berlin.add_days(monday, 0)


def test_naive_datetimes_are_refused_naming_the_argument() -> None:
    ny = BusinessCalendar.weekdays("America/New_York")
    naive = datetime(2026, 1, 5, 9, 0)
    with pytest.raises(ValidationError, match=r"^at: .* naive datetime"):
        ny.add(naive, H)
    with pytest.raises(ValidationError, match=r"^at: "):
        ny.is_open(naive)
    with pytest.raises(ValidationError, match=r"^end: "):
        ny.between(datetime(2026, 1, 5, tzinfo=UTC), naive)
    with pytest.raises(ValidationError, match=r"^delta: "):
        ny.add(datetime(2026, 1, 5, tzinfo=UTC), -H)


@pytest.mark.parametrize(
    ("data", "path", "message"),
    [
        ({"zone": "Europe/Nowhere", "hours": {"mon": "09:00-17:00"}}, "zone", "IANA"),
        ({"zone": "UTC", "hours": {"mon": "17:00-09:00"}}, "hours['mon'][0]", "overnight"),
        ({"zone": "UTC", "hours": {"mon": "09:00-25:00"}}, "hours['mon'][0]", "00:00..24:00"),
        (
            {"zone": "UTC", "hours": {"mon": ["09:00-12:00", "11:00-13:00"]}},
            "hours['mon']",
            "overlapping",
        ),
        (
            {"zone": "UTC", "hours": {"mon-fri": "09:00-17:00", "fri": "09:00-12:00"}},
            "hours",
            "twice",
        ),
        ({"zone": "UTC", "hours": {"funday": "09:00-17:00"}}, "hours", "weekday"),
        ({"zone": "UTC", "hours": {}}, "hours", "no working hours"),
        ({"zone": "UTC", "hours": {"mon": "9-5"}}, "hours['mon'][0]", "HH:MM"),
        (
            {"zone": "UTC", "hours": {"mon": "09:00-17:00"}, "holidays": ["2026-13-01"]},
            "holidays",
            "ISO date",
        ),
        ({"zone": "UTC"}, "cal.hours", "required"),
        ({"zone": "UTC", "hours": {"mon": "09:00-17:00"}, "tz": "x"}, "cal.tz", "unknown key"),
    ],
)
def test_bad_calendars_name_the_key_and_value(
    data: dict[str, object], path: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        BusinessCalendar.from_dict(data, path="cal" if path.startswith("cal") else "")
    assert path == info.value.path


def test_round_trip_through_plain_data() -> None:
    calendar = BusinessCalendar.from_dict(
        {
            "zone": "Pacific/Auckland",
            "hours": {
                "mon-thu": ["08:30-12:00", "12:45-17:15"],
                "fri": "08:30-15:00",
                "sun": "22:00-24:00",
            },
            "holidays": ["2026-01-01", "2026-01-02"],
            "name": "anz",
        }
    )
    assert calendar == BusinessCalendar.from_dict(calendar.to_dict())
    assert "anz" in repr(calendar)
    assert hash(calendar) == hash(BusinessCalendar.from_dict(calendar.to_dict()))


def test_weekday_ranges_wrap_around_the_week() -> None:
    calendar = BusinessCalendar(zone="Asia/Dubai", hours={"sun-thu": "08:00-16:00"})
    assert [bool(day) for day in calendar.hours] == [True, True, True, True, False, False, True]


def test_resolver_prefers_owner_then_team_then_region() -> None:
    at = datetime(2026, 1, 5, tzinfo=UTC)
    default = BusinessCalendar.weekdays("UTC", name="default")
    owner_cal = BusinessCalendar.weekdays("America/Chicago", name="owner")
    team_cal = BusinessCalendar.weekdays("Europe/Berlin", name="team")
    region_cal = BusinessCalendar.weekdays("Australia/Sydney", name="region")
    resolver = CalendarResolver(
        default=default,
        by_owner={"u-1": owner_cal},
        by_team={"emea": team_cal},
        by_region={"AU": region_cal},
        owner_teams={"u-2": "emea"},
    )
    assert resolver(Lead(id="a", created_at=at, owner_id="u-1", country="AU")).name == "owner"
    assert resolver(Lead(id="b", created_at=at, owner_id="u-2", country="AU")).name == "team"
    assert resolver(Lead(id="c", created_at=at, properties={"team": "emea"})).name == "team"
    assert resolver(Lead(id="d", created_at=at, owner_id="u-9", country="AU")).name == "region"
    assert resolver(Lead(id="e", created_at=at, properties={"region": "AU"})).name == "region"
    assert resolver(Lead(id="f", created_at=at, country="BR")).name == "default"
    regional_first = CalendarResolver(
        default=default,
        by_owner={"u-1": owner_cal},
        by_region={"AU": region_cal},
        order=("region", "owner"),
    )
    assert (
        regional_first(Lead(id="g", created_at=at, owner_id="u-1", country="AU")).name == "region"
    )
    assert calendar_for(default, Lead(id="h", created_at=at)) is default
    with pytest.raises(ValidationError, match="order"):
        CalendarResolver(default=default, order=("manager",))


def test_resolver_refuses_what_is_not_a_calendar() -> None:
    with pytest.raises(ValidationError, match="default"):
        CalendarResolver(default="Europe/Berlin")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match=r"calendars\['AU'\]"):
        CalendarResolver(
            default=BusinessCalendar.weekdays("UTC"),
            by_region={"AU": "Australia/Sydney"},  # type: ignore[dict-item]
        )


def test_a_local_date_that_never_happened_has_no_hours() -> None:
    # Samoa moved across the date line: 29 December 2011 was followed by 31 December.
    apia = BusinessCalendar(zone="Pacific/Apia", hours={"mon-sun": "00:00-24:00"})
    assert apia.intervals(date(2011, 12, 30)) == []
    noon = datetime(2011, 12, 29, 12, 0, tzinfo=ZoneInfo("Pacific/Apia"))
    assert apia.add(noon, 24 * H).isoformat() == "2011-12-31T12:00:00+14:00"


EXAMPLE_CALENDARS = Path(__file__).resolve().parents[2] / "examples" / "calendars.toml"


def test_example_calendars_choose_per_lead() -> None:
    choose = load_calendars(EXAMPLE_CALENDARS)
    at = datetime(2026, 1, 5, tzinfo=UTC)
    assert choose(Lead(id="a", created_at=at, owner_id="u-lena")).name == "emea"
    assert choose(Lead(id="b", created_at=at, country="NZ")).name == "apac"
    assert choose(Lead(id="c", created_at=at, country="US")).name == "us-east"
    assert date(2026, 4, 6) in choose.by_team["anz"].holidays


@pytest.mark.parametrize(
    ("data", "path", "problem"),
    [
        ({"calendars": {}}, "calendars", "table of named calendars"),
        ({"calendars": {"a": {"zone": "UTC"}}}, "calendars.a.hours", "required"),
        (
            {"calendars": {"a": {"zone": "UTC", "hours": {"mon": "9-5"}}}},
            "calendars.a.hours['mon'][0]",
            "HH:MM",
        ),
        (
            {
                "calendars": {"a": {"zone": "UTC", "hours": {"mon": "09:00-17:00"}}},
                "choose": {"by_region": {"AU": "b"}},
            },
            "choose.by_region.AU",
            "'b' is not a calendar",
        ),
        (
            {
                "calendars": {
                    "a": {"zone": "UTC", "hours": {"mon": "09:00-17:00"}},
                    "b": {"zone": "UTC", "hours": {"tue": "09:00-17:00"}},
                }
            },
            "choose.default",
            "more than one calendar",
        ),
        (
            {
                "calendars": {"a": {"zone": "UTC", "hours": {"mon": "09:00-17:00"}}},
                "choose": {"order": ["boss"]},
            },
            "choose.order",
            "'boss'",
        ),
        (
            {"calendars": {"a": {"zone": "UTC", "hours": {"mon": "09:00-17:00"}}}, "pick": {}},
            "pick",
            "unknown key",
        ),
    ],
)
def test_bad_calendar_settings_name_the_key(
    data: dict[str, object], path: str, problem: str
) -> None:
    with pytest.raises(ConfigError, match=problem) as info:
        CalendarResolver.from_dict(data)
    assert info.value.path == path
