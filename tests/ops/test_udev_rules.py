"""udev/77-raspisms-daemon.rules, run by the real udev rule engine (`udevadm test`) on mocked USB modems.

The modems are umockdev device descriptions (sysfs attributes and uevent properties, the format
`umockdev-record` writes), built below from the interface layouts ModemManager's port-type rules
document for each model. `udevadm test` runs inside a private mount namespace (see _sandbox.py) with
only our rules file (plus, where said, the host's 60-serial.rules).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.helpers.machine import can_unshare, needs
from tests.ops._sandbox import REPO, UDEV_SANDBOX, udev_tools_present

RULES = REPO / "udev" / "77-raspisms-daemon.rules"
HOST_SERIAL_RULES = Path("/usr/lib/udev/rules.d/60-serial.rules")
CONTROLLER = "/devices/platform/soc/3f980000.usb/usb1/1-1"

pytestmark = [
    needs(udev_tools_present(), "umockdev-run and udevadm", "umockdev udev"),
    pytest.mark.skipif(not can_unshare(), reason="udevadm test writes /dev and /run: needs root, unshare -m"),
]


@dataclass(frozen=True)
class Port:
    subsystem: str  # "tty" (usb-serial: ttyUSBn), "acm" (ttyACMn), "usbmisc" (cdc-wdm) or "net"
    name: str


@dataclass(frozen=True)
class Interface:
    number: int
    klass: str = "ff"
    subclass: str = "ff"
    protocol: str = "ff"
    driver: str = "option"
    ports: tuple[Port, ...] = ()


@dataclass(frozen=True)
class UsbDevice:
    vid: str
    pid: str
    port: str  # USB port path below the root hub, e.g. "1-1.2"
    devnum: int
    manufacturer: str
    product: str
    serial: str | None = None
    interfaces: tuple[Interface, ...] = field(default=())

    @property
    def syspath(self) -> str:
        return f"{CONTROLLER}/{self.port}"

    def port_syspath(self, name: str) -> str:
        for iface in self.interfaces:
            for port in iface.ports:
                if port.name == name:
                    base = f"{self.syspath}/{self.port}:1.{iface.number}"
                    if port.subsystem == "tty":
                        return f"{base}/{name}/tty/{name}"
                    if port.subsystem == "acm":
                        return f"{base}/tty/{name}"
                    return f"{base}/{port.subsystem}/{name}"
        raise KeyError(name)

    def umockdev(self) -> str:
        """The device as `umockdev-record` would describe it (with the Pi's USB controller and hubs)."""
        blocks = [
            ["P: /devices/platform/soc", "E: SUBSYSTEM=platform", "E: OF_NAME=soc"],
            [
                "P: /devices/platform/soc/3f980000.usb",
                "E: DRIVER=dwc_otg",
                "E: OF_NAME=usb",
                "E: SUBSYSTEM=platform",
                "L: driver=../../../../bus/platform/drivers/dwc_otg",
            ],
            *(
                [
                    f"P: {path}",
                    "E: DEVTYPE=usb_device",
                    "E: DRIVER=usb",
                    "E: SUBSYSTEM=usb",
                    "A: idVendor=1d6b" if path.endswith("usb1") else "A: idVendor=0424",
                    "A: idProduct=0002" if path.endswith("usb1") else "A: idProduct=9514",
                    "A: bDeviceClass=09",
                ]
                for path in ("/devices/platform/soc/3f980000.usb/usb1", CONTROLLER)
            ),
            [
                f"P: {self.syspath}",
                f"N: bus/usb/001/{self.devnum:03d}",
                f"E: DEVNAME=/dev/bus/usb/001/{self.devnum:03d}",
                "E: DEVTYPE=usb_device",
                "E: DRIVER=usb",
                f"E: PRODUCT={self.vid.lstrip('0')}/{self.pid.lstrip('0')}/100",
                "E: TYPE=0/0/0",
                "E: BUSNUM=001",
                f"E: DEVNUM={self.devnum:03d}",
                "E: MAJOR=189",
                f"E: MINOR={self.devnum - 1}",
                "E: SUBSYSTEM=usb",
                f"A: idVendor={self.vid}",
                f"A: idProduct={self.pid}",
                "A: bcdDevice=0100",
                f"A: manufacturer={self.manufacturer}",
                f"A: product={self.product}",
                *([f"A: serial={self.serial}"] if self.serial else []),
                "A: bDeviceClass=00",
                "A: bDeviceSubClass=00",
                "A: bDeviceProtocol=00",
                f"A: bNumInterfaces={len(self.interfaces):2d}",
                "A: bConfigurationValue=1",
                f"A: devnum={self.devnum}",
                "A: busnum=1",
                "A: speed=480",
                "L: driver=../../../../../../bus/usb/drivers/usb",
            ]
        ]
        minors = {"tty": 0, "acm": 0, "usbmisc": 176}
        for iface in self.interfaces:
            base = f"{self.syspath}/{self.port}:1.{iface.number}"
            blocks.append(
                [
                    f"P: {base}",
                    "E: DEVTYPE=usb_interface",
                    f"E: DRIVER={iface.driver}",
                    f"E: INTERFACE={int(iface.klass, 16)}/{int(iface.subclass, 16)}/"
                    f"{int(iface.protocol, 16)}",
                    "E: SUBSYSTEM=usb",
                    f"A: bInterfaceClass={iface.klass}",
                    f"A: bInterfaceSubClass={iface.subclass}",
                    f"A: bInterfaceProtocol={iface.protocol}",
                    f"A: bInterfaceNumber={iface.number:02x}",
                    "A: bAlternateSetting= 0",
                    "A: bNumEndpoints=03",
                    f"L: driver=../../../../../../../bus/usb/drivers/{iface.driver}",
                ]
            )
            for port in iface.ports:
                minor = minors.get(port.subsystem, 0)
                minors[port.subsystem] = minor + 1
                if port.subsystem == "tty":
                    blocks.append(
                        [
                            f"P: {base}/{port.name}",
                            f"E: DRIVER={iface.driver}1",
                            "E: SUBSYSTEM=usb-serial",
                            "A: port_number=0",
                        ]
                    )
                    blocks.append(
                        [
                            f"P: {base}/{port.name}/tty/{port.name}",
                            f"N: {port.name}",
                            f"E: DEVNAME=/dev/{port.name}",
                            "E: MAJOR=188",
                            f"E: MINOR={minor}",
                            "E: SUBSYSTEM=tty",
                        ]
                    )
                elif port.subsystem == "acm":
                    blocks.append(
                        [
                            f"P: {base}/tty/{port.name}",
                            f"N: {port.name}",
                            f"E: DEVNAME=/dev/{port.name}",
                            "E: MAJOR=166",
                            f"E: MINOR={minor}",
                            "E: SUBSYSTEM=tty",
                        ]
                    )
                elif port.subsystem == "usbmisc":
                    blocks.append(
                        [
                            f"P: {base}/usbmisc/{port.name}",
                            f"N: {port.name}",
                            f"E: DEVNAME=/dev/{port.name}",
                            "E: MAJOR=180",
                            f"E: MINOR={minor}",
                            "E: SUBSYSTEM=usbmisc",
                        ]
                    )
                else:
                    blocks.append(
                        [
                            f"P: {base}/net/{port.name}",
                            f"E: INTERFACE={port.name}",
                            "E: IFINDEX=7",
                            "E: DEVTYPE=wwan",
                            "E: SUBSYSTEM=net",
                            "A: type=1",
                        ]
                    )
        return "\n\n".join("\n".join(block) for block in blocks) + "\n"


def _tty(
    number: int, name: str, klass: str = "ff", sub: str = "ff", proto: str = "ff", driver: str = "option"
) -> Interface:
    return Interface(number, klass, sub, proto, driver, (Port("tty", name),))


# Huawei E3131 in stick mode: class-coded interfaces (ff/02/01 = PPP modem port, ff/02/02 = PC UI AT port)
# and the placeholder serial number Huawei firmware reports.
E3131 = UsbDevice(
    "12d1", "1506", "1-1.2", 4, "HUAWEI", "HUAWEI Mobile", "0123456789ABCDEF",
    (_tty(0, "ttyUSB0", "ff", "02", "01"), _tty(2, "ttyUSB1", "ff", "02", "02")),
)
# Huawei E173 with old firmware: ff/ff/ff everywhere, no USB serial number.
E173 = UsbDevice(
    "12d1", "1436", "1-1.3", 5, "HUAWEI", "HUAWEI Mobile", None,
    (_tty(0, "ttyUSB0"), _tty(1, "ttyUSB1"), _tty(2, "ttyUSB2")),
)
# Quectel EC25: if00 diag, if01 NMEA, if02 AT, if03 AT/PPP, if04 QMI (cdc-wdm + wwan).
EC25 = UsbDevice(
    "2c7c", "0125", "1-1.4", 6, "Quectel", "EC25-E", "ec25serial01",
    (
        *(_tty(n, f"ttyUSB{n}") for n in range(4)),
        Interface(4, "ff", "ff", "ff", "qmi_wwan", (Port("usbmisc", "cdc-wdm0"), Port("net", "wwan0"))),
    ),
)
# SIMCom SIM7600: if00 diag, if01 NMEA, if02 AT, if03 AT/PPP, if04 audio.
SIM7600 = UsbDevice(
    "1e0e", "9001", "1-1.5", 7, "SimTech, Incorporated", "SimTech, Incorporated", "sim7600serial",
    tuple(_tty(n, f"ttyUSB{n + 4}") for n in range(5)),
)
# A SIM800 behind a CP2102 USB-serial adapter: nothing says it is a modem.
CP2102 = UsbDevice(
    "10c4", "ea60", "1-1.1", 3, "Silicon Labs", "CP2102 USB to UART Bridge Controller", "0001",
    (_tty(0, "ttyUSB9", "ff", "00", "00", "cp210x"),),
)


@dataclass
class UdevResult:
    properties: dict[str, str]
    stderr: str
    returncode: int

    @property
    def links(self) -> list[str]:
        return self.properties.get("DEVLINKS", "").split()

    def rule_problems(self) -> list[str]:
        # Parse errors name the file and line without a device prefix: "<file>:<line> Invalid key 'X'".
        return [line for line in self.stderr.splitlines() if re.match(r"/etc/udev/rules\.d/[^:]+:\d+ ", line)]


def udev_test(
    tmp_path: Path,
    device: UsbDevice,
    syspath: str,
    *,
    rules: dict[str, str] | None = None,
    action: str = "add",
) -> UdevResult:
    rules_dir = tmp_path / f"rules-{os.urandom(4).hex()}"
    rules_dir.mkdir()
    for name, text in (rules or {RULES.name: RULES.read_text()}).items():
        (rules_dir / name).write_text(text)
    description = tmp_path / f"{device.vid}-{device.pid}.umockdev"
    description.write_text(device.umockdev())
    env = {
        **os.environ,
        "RULES_DIR": str(rules_dir),
        "UMOCKDEV_FILE": str(description),
        "SYSPATH": f"/sys{syspath}",
        "ACTION": action,
    }
    proc = subprocess.run(
        ["unshare", "-m", "--propagation", "private", "sh", "-c", UDEV_SANDBOX],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    properties = dict(
        line.split("=", 1) for line in proc.stdout.splitlines() if re.match(r"[A-Z_.][A-Z0-9_]*=", line)
    )
    return UdevResult(properties, proc.stderr, proc.returncode)


def _at_port(tmp_path: Path, device: UsbDevice, name: str, rules: dict[str, str] | None = None) -> UdevResult:
    result = udev_test(tmp_path, device, device.port_syspath(name), rules=rules)
    assert result.returncode == 0, result.stderr
    assert result.properties.get("DEVNAME") == f"/dev/{name}", "udevadm did not process the mocked device"
    assert result.rule_problems() == []
    return result


def _assert_attached(result: UdevResult, name: str, link: str) -> None:
    assert link in result.links
    assert result.properties["ID_MM_DEVICE_IGNORE"] == "1"
    assert result.properties["RASPISMS_AT_PORT"] == "1"
    assert result.properties["SYSTEMD_WANTS"] == f"raspisms-daemon-attach@{name}.service"
    assert ":systemd:" in result.properties["TAGS"]


def _assert_not_attached(result: UdevResult) -> None:
    assert not [link for link in result.links if link.startswith("/dev/raspisms/")]
    assert "SYSTEMD_WANTS" not in result.properties
    assert "RASPISMS_AT_PORT" not in result.properties


def test_huawei_pc_ui_port_gets_the_stable_link_and_the_attach_unit(tmp_path: Path) -> None:
    result = _at_port(tmp_path, E3131, "ttyUSB1")
    # Huawei's placeholder serial number is not used: the link names the USB port instead.
    path_tag = result.properties["ID_PATH_TAG"]
    assert path_tag.startswith("platform-3f980000_usb-usb-0_1_2_1_2"), path_tag
    _assert_attached(result, "ttyUSB1", f"/dev/raspisms/12d1-1506-path-{path_tag}-at")


def test_huawei_ppp_port_is_hidden_from_modemmanager_but_not_attached(tmp_path: Path) -> None:
    result = _at_port(tmp_path, E3131, "ttyUSB0")
    assert result.properties["ID_MM_DEVICE_IGNORE"] == "1"
    _assert_not_attached(result)


def test_old_huawei_firmware_uses_interface_02_and_a_port_path_without_serial(tmp_path: Path) -> None:
    result = _at_port(tmp_path, E173, "ttyUSB2")
    path_tag = result.properties["ID_PATH_TAG"]
    assert path_tag.startswith("platform-3f980000_usb-usb-0_1_3_1_2"), path_tag
    _assert_attached(result, "ttyUSB2", f"/dev/raspisms/12d1-1436-path-{path_tag}-at")
    _assert_not_attached(_at_port(tmp_path, E173, "ttyUSB0"))


def test_quectel_ec25_interface_02_is_the_at_port(tmp_path: Path) -> None:
    at = _at_port(tmp_path, EC25, "ttyUSB2")
    _assert_attached(at, "ttyUSB2", "/dev/raspisms/2c7c-0125-ec25serial01-at")
    for other in ("ttyUSB0", "ttyUSB1", "ttyUSB3"):
        result = _at_port(tmp_path, EC25, other)
        assert result.properties["ID_MM_DEVICE_IGNORE"] == "1", other
        _assert_not_attached(result)


def test_quectel_qmi_ports_are_kept_from_modemmanager_too(tmp_path: Path) -> None:
    for name in ("cdc-wdm0", "wwan0"):
        result = udev_test(tmp_path, EC25, EC25.port_syspath(name))
        assert result.returncode == 0, result.stderr
        assert result.rule_problems() == []
        assert result.properties["ID_MM_DEVICE_IGNORE"] == "1", name
        _assert_not_attached(result)


def test_simcom_sim7600_interface_02_is_the_at_port(tmp_path: Path) -> None:
    at = _at_port(tmp_path, SIM7600, "ttyUSB6")
    _assert_attached(at, "ttyUSB6", "/dev/raspisms/1e0e-9001-sim7600serial-at")
    _assert_not_attached(_at_port(tmp_path, SIM7600, "ttyUSB7"))


def test_the_usb_device_of_a_known_modem_is_ignored_by_modemmanager(tmp_path: Path) -> None:
    for device, expected in ((E3131, "1"), (EC25, "1"), (CP2102, None)):
        result = udev_test(tmp_path, device, device.syspath)
        assert result.returncode == 0 and result.rule_problems() == [], result.stderr
        assert result.properties.get("DEVTYPE") == "usb_device"
        assert result.properties.get("ID_MM_DEVICE_IGNORE") == expected, device


def test_an_unknown_usb_serial_adapter_is_left_alone(tmp_path: Path) -> None:
    result = _at_port(tmp_path, CP2102, "ttyUSB9")
    assert "ID_MM_DEVICE_IGNORE" not in result.properties
    _assert_not_attached(result)


@needs(HOST_SERIAL_RULES.exists(), "udev's stock 60-serial.rules", "udev")
def test_a_local_rule_marks_a_sim800_adapter_as_documented(tmp_path: Path) -> None:
    # The line the rules file and the install guide tell a SIM800 owner to write, with the stock
    # 60-serial.rules that provides ID_SERIAL_SHORT on a real system.
    local = 'SUBSYSTEM=="tty", ENV{ID_SERIAL_SHORT}=="0001", ENV{RASPISMS_AT_PORT}="1"\n'
    assert local.strip() in RULES.read_text()
    rules = {
        HOST_SERIAL_RULES.name: HOST_SERIAL_RULES.read_text(),
        "76-raspisms-local.rules": local,
        RULES.name: RULES.read_text(),
    }
    result = _at_port(tmp_path, CP2102, "ttyUSB9", rules=rules)
    _assert_attached(result, "ttyUSB9", "/dev/raspisms/10c4-ea60-0001-at")


def test_nothing_is_started_when_the_modem_goes_away(tmp_path: Path) -> None:
    result = udev_test(tmp_path, E3131, E3131.port_syspath("ttyUSB1"), action="remove")
    assert result.returncode == 0 and result.rule_problems() == [], result.stderr
    assert "SYSTEMD_WANTS" not in result.properties


def test_a_syntax_error_in_the_rules_is_caught(tmp_path: Path) -> None:
    # udevadm test exits 0 and skips a bad line: only its log says so, which is what we check.
    text = RULES.read_text().replace('ENV{ID_MM_DEVICE_IGNORE}="1"', 'ENV{ID_MM_DEVICE_IGNORE}=="1', 1)
    broken = udev_test(tmp_path, E3131, E3131.port_syspath("ttyUSB1"), rules={RULES.name: text})
    assert broken.returncode == 0
    assert broken.rule_problems(), broken.stderr
    assert all(RULES.name in line for line in broken.rule_problems())


def test_the_sandbox_leaves_the_hosts_dev_and_run_alone(tmp_path: Path) -> None:
    before = os.path.exists("/dev/raspisms"), os.path.exists("/run/udev/data/c188:1")
    result = _at_port(tmp_path, E3131, "ttyUSB1")
    assert [link for link in result.links if link.startswith("/dev/raspisms/12d1-1506-")]
    assert (os.path.exists("/dev/raspisms"), os.path.exists("/run/udev/data/c188:1")) == before
    assert shutil.which("udevadm")
