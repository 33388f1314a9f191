from services.notify.app import service

service.run()
