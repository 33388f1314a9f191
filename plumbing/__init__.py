"""Plumbing every MASH service needs and none of them owns.

Broker setup, the CloudEvents wire format, the database client, the unit of
work with its outbox and processed-message record, and the consumer wrapper
that retries and dead-letters. It knows the contracts and no service.
"""
