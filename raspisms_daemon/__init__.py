"""raspisms-daemon: an SMS gateway daemon for GSM modems that delivers RaspiSMS webhooks."""

__version__ = "0.1.0"
__all__ = ["__version__"]
