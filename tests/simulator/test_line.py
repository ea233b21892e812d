"""The line discipline on its own: bytes in, echo and complete inputs out, no pty."""

from __future__ import annotations

from raspisms_daemon.simulator.line import (
    MAX_LINE,
    CommandLine,
    Input,
    LineDiscipline,
    PduCancelled,
    PduEntered,
)


class Switches:
    """The two things the discipline asks the engine about, as plain flags a test can flip."""

    def __init__(self, echo: bool = True) -> None:
        self.echo = echo
        self.deaf = False


def make(echo: bool = True) -> tuple[LineDiscipline, Switches]:
    switches = Switches(echo)
    return LineDiscipline(echo=lambda: switches.echo, deaf=lambda: switches.deaf), switches


def feed(line: LineDiscipline, data: bytes) -> list[bytes | Input]:
    return list(line.feed(data))


def test_a_command_line_ends_at_cr_and_its_echo_comes_first() -> None:
    line, _ = make()
    assert feed(line, b"AT+CSQ\r") == [b"AT+CSQ\r", CommandLine("AT+CSQ")]


def test_a_line_split_across_writes_is_assembled_and_echoed_as_it_comes() -> None:
    line, _ = make()
    assert feed(line, b"AT+CG") == [b"AT+CG"]
    assert line.typing
    assert feed(line, b"SN\r") == [b"SN\r", CommandLine("AT+CGSN")]
    assert not line.typing


def test_several_lines_in_one_write_come_out_in_order() -> None:
    line, _ = make(echo=False)
    assert feed(line, b"AT\rAT+CGMI;+CGMM\r") == [CommandLine("AT"), CommandLine("AT+CGMI;+CGMM")]


def test_backspace_takes_back_a_character_and_lf_nul_ctrl_z_esc_are_ignored() -> None:
    line, _ = make(echo=False)
    assert feed(line, b"\nATX\x08+C\x00SQ\x1a\x1b\r") == [CommandLine("AT+CSQ")]


def test_echo_turned_off_by_a_line_applies_to_the_bytes_after_it_in_the_same_write() -> None:
    line, switches = make()
    out: list[bytes | Input] = []
    for item in line.feed(b"ATE0\rAT\r"):
        out.append(item)
        if item == CommandLine("ATE0"):
            switches.echo = False  # what the firmware does while the caller handles the input
    assert out == [b"ATE0\r", CommandLine("ATE0"), CommandLine("AT")]


def test_ctrl_z_at_the_prompt_sends_the_pdu_with_the_length_cmgs_announced() -> None:
    line, _ = make()
    line.prompt(15)
    assert line.at_prompt and line.typing
    assert feed(line, b"0011\r\n22 \x1a") == [b"001122 ", PduEntered("001122", 15)]
    assert not line.at_prompt
    assert feed(line, b"AT\r") == [b"AT\r", CommandLine("AT")]  # back to command lines


def test_esc_at_the_prompt_cancels_the_pdu() -> None:
    line, _ = make(echo=False)
    line.prompt(15)
    assert feed(line, b"0011\x1b") == [PduCancelled()]
    assert not line.typing


def test_nothing_is_heard_while_deaf() -> None:
    line, switches = make()
    switches.deaf = True
    assert feed(line, b"AT+CSQ\r") == []
    switches.deaf = False
    assert feed(line, b"AT\r") == [b"AT\r", CommandLine("AT")]


def test_an_overlong_line_is_cut_at_max_line() -> None:
    line, _ = make(echo=False)
    [command] = feed(line, b"A" * (MAX_LINE + 100) + b"\r")
    assert command == CommandLine("A" * MAX_LINE)


def test_reset_forgets_a_half_typed_line_and_the_prompt() -> None:
    line, _ = make(echo=False)
    feed(line, b"AT+CG")
    line.reset()
    assert feed(line, b"SN\r") == [CommandLine("SN")]
    line.prompt(20)
    line.reset()
    assert not line.at_prompt and not line.typing
