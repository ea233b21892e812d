"""The MQTT link: events to a broker, send jobs from it, presence and Home Assistant discovery.

An edge like the API: modem code never knows about it. Pure parts (values in, values out):
``topics`` (the topic tree), ``jobs`` (reading a send job), ``payloads`` (what each outbox row, phone
state and job status becomes on the wire), ``discovery`` (Home Assistant's discovery documents). I/O:
``link`` (the connection: aiomqtt, imported only when ``[mqtt]`` is configured) and ``intake`` (jobs
into the store, one transaction per batch, acknowledged to the broker after the commit).
"""
