from services.decision.app import service

service.run()
