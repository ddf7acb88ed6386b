"""Outbound delivery: resolve recipient domains, speak SMTP, report outcomes to the engine.

The service runtime needs only ``DeliveryScheduler``::

    scheduler = DeliveryScheduler.from_settings(engine, settings)
    await scheduler.start()
    scheduler.notify()        # after accepting new work (any thread)
    await scheduler.stop()    # on shutdown; loses nothing
"""

from .scheduler import DeliveryScheduler

__all__ = ["DeliveryScheduler"]
