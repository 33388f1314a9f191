from services.research.app import service

service.run()
