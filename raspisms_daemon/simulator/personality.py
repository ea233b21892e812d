"""What differs between the modems the simulator imitates: identity strings, storage, URCs, quirks.

Pure data: the firmware (:mod:`.commands`) and the engine (:mod:`.engine`) ask a :class:`Profile` how
to word an answer, so that adding a personality is one entry in :data:`PROFILES`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace

__all__ = ["CPMS_FORMS", "PROFILES", "Personality", "Profile", "cpms_offer", "cpms_test_line", "profile_for"]


class Personality(enum.Enum):
    GENERIC = "generic"
    HUAWEI = "huawei"
    QUECTEL = "quectel"
    SIM800 = "sim800"
    WAVECOM = "wavecom"


# How AT+CPMS=? words the storages, as real modems do (the captures in tests/data/corpus):
# groups  ("SM","ME","MT"),("SM","ME","MT"),("SM","ME","MT")
# spaced  ( "SM" , "ME" , "MT" ) , ( … ) , ( … )
# flat    "SM","SM","SM"                       one storage per parameter (Huawei MU609)
# mixed   ("SM","ME","MT"),"SM",("SM","ME","MT")   a bare item between groups
# nested  (("SM","ME","MT"),("SM"))            two parameters only (Wavecom)
CPMS_FORMS = ("groups", "spaced", "flat", "mixed", "nested")


@dataclass(frozen=True)
class Profile:
    personality: Personality
    manufacturer: str
    model: str
    revision: str
    # The storage name this modem files incoming SMS under, and where its indexes start.
    storage: str
    first_index: int
    # Storages AT+CPMS accepts (and lists in AT+CPMS=?, worded as ``cpms_form`` says).
    storages: tuple[str, ...]
    cpms_form: str
    # What AT+CPMS? names before the client chooses (SIM800 says "SM_P", the preferred SIM storage).
    cpms_default: str
    # Which command reads the ICCID, and the prefix of its answer ("" = bare digits, as SIM800 does).
    iccid_command: str
    iccid_prefix: str
    cnmi_test: str
    # Old Wavecom firmware answers AT+CPIN? with its +CPIN line and no OK.
    cpin_final: bool
    # CNMI <ds> values accepted (Quectel EC25 has no ds=2: clients must fall back to ds=1, +CDS).
    cnmi_ds: tuple[int, ...]
    boot_urcs: tuple[str, ...]
    call_end_urc: str
    noise_default: bool
    # SIM800 pads +CMGR/+CMGL PDUs with FF octets up to the SIM record size.
    pad_pdu_to: int | None
    ati: tuple[str, ...]
    cops_suffix: str


_GENERIC = Profile(
    personality=Personality.GENERIC,
    manufacturer="RaspiSMS",
    model="Virtual GSM Modem",
    revision="SIM 1.0",
    storage="SM",
    first_index=1,
    storages=("SM", "ME", "MT"),
    cpms_form="groups",
    cpms_default="SM",
    iccid_command="+CCID",
    iccid_prefix="+CCID: ",
    cnmi_test="+CNMI: (0-2),(0-3),(0,2),(0-2),(0,1)",
    cpin_final=True,
    cnmi_ds=(0, 1, 2),
    boot_urcs=("+CPIN: {cpin}",),
    call_end_urc="NO CARRIER",
    noise_default=False,
    pad_pdu_to=None,
    ati=("Manufacturer: {manufacturer}", "Model: {model}", "Revision: {revision}", "IMEI: {imei}"),
    cops_suffix=",0",
)

# The real modems, each as what it does differently from the generic one.
PROFILES: dict[Personality, Profile] = {
    Personality.GENERIC: _GENERIC,
    Personality.HUAWEI: replace(
        _GENERIC,
        personality=Personality.HUAWEI,
        manufacturer="huawei",
        model="E3131",
        revision="21.158.47.00.209",
        storage="ME",
        first_index=0,
        storages=("ME", "SM", "MT"),
        cpms_default="ME",
        iccid_command="^ICCID?",
        iccid_prefix="^ICCID: ",
        cnmi_test="+CNMI: (0,1,2),(0,1,2,3),(0,2),(0,1,2),(0,1)",
        boot_urcs=("^SIMST: 1", "^SRVST: 2"),
        call_end_urc="^CEND:1,0,104,16",
        noise_default=True,
        ati=(*_GENERIC.ati, "+GCAP: +CGSM,+DS,+ES"),
        cops_suffix=",2",
    ),
    Personality.QUECTEL: replace(
        _GENERIC,
        personality=Personality.QUECTEL,
        manufacturer="Quectel",
        model="EC25",
        revision="EC25EFAR06A06M4G",
        first_index=0,
        iccid_command="+QCCID",
        iccid_prefix="+QCCID: ",
        cnmi_test="+CNMI: (0-2),(0-3),(0,2),(0-1),(0,1)",
        cnmi_ds=(0, 1),
        boot_urcs=("RDY", "+CFUN: 1", "+CPIN: {cpin}", "+QUSIM: 1", "+QIND: SMS DONE"),
        ati=("{manufacturer}", "{model}", "Revision: {revision}"),
        cops_suffix=",7",
    ),
    Personality.SIM800: replace(
        _GENERIC,
        personality=Personality.SIM800,
        manufacturer="SIMCOM_Ltd",
        model="SIMCOM_SIM800L",
        revision="Revision:1418B04SIM800L24",
        storages=("SM", "ME", "SM_P", "ME_P", "MT"),
        cpms_default="SM_P",
        iccid_prefix="",
        cnmi_test="+CNMI: (0-3),(0-3),(0,2),(0,1),(0,1)",
        boot_urcs=("RDY", "+CFUN: 1", "+CPIN: {cpin}", "Call Ready", "SMS Ready"),
        # 176-octet SIM record minus the status byte.
        pad_pdu_to=175,
        ati=("SIM800 R14.18",),
        cops_suffix="",
    ),
    # The Multiband 900E/1800 of python-gsmmodem's fixtures: +CPIN without OK, two storage parameters.
    Personality.WAVECOM: replace(
        _GENERIC,
        personality=Personality.WAVECOM,
        manufacturer="WAVECOM MODEM",
        model="MULTIBAND  900E  1800",
        revision="641b09gg.Q2406B 1266500 070207 17:06",
        storages=("SM", "BM", "SR"),
        cpms_form="nested",
        cpin_final=False,
        cnmi_test="+CNMI: (0-3),(0-3),(0-2),(0,1),(0,1)",
        boot_urcs=("+WIND: 1", "+WIND: 4"),
        ati=("{manufacturer}", "{model}", "{revision}"),
    ),
}


def cpms_offer(profile: Profile, form: str) -> tuple[tuple[str, ...], ...]:
    """What AT+CPMS=? offers for each parameter in ``form``: every storage, or (flat) the one messages
    are filed in; a mixed form's bare item and a nested form's second group offer that one alone."""
    every, mine = profile.storages, (profile.storage,)
    return {
        "groups": (every, every, every),
        "spaced": (every, every, every),
        "flat": (mine, mine, mine),
        "mixed": (every, mine, every),
        "nested": (every, mine),
    }[form]


def cpms_test_line(form: str, offered: tuple[tuple[str, ...], ...]) -> str:
    """The ``+CPMS:`` line of AT+CPMS=? in ``form``."""

    def group(names: tuple[str, ...], sep: str = ",") -> str:
        return sep.join(f'"{name}"' for name in names)

    if form == "spaced":
        return "+CPMS: " + " , ".join(f"( {group(names, ' , ')} )" for names in offered)
    if form == "flat":
        return "+CPMS: " + ",".join(group(names) for names in offered)
    if form == "mixed":
        return "+CPMS: " + ",".join(group(n) if i == 1 else f"({group(n)})" for i, n in enumerate(offered))
    groups = ",".join(f"({group(names)})" for names in offered)
    return f"+CPMS: ({groups})" if form == "nested" else f"+CPMS: {groups}"


def profile_for(personality: Personality | str) -> Profile:
    """The profile of a personality given as the enum or its value ("huawei")."""
    try:
        return PROFILES[Personality(personality)]
    except ValueError:
        choices = ", ".join(p.value for p in Personality)
        raise ValueError(f"unknown personality {personality!r} (choose from {choices})") from None
