"""deskmail's Azure Functions app (Python v2 programming model): registers the blueprints."""
import azure.functions as func

from functions.fetch import blueprint as fetch_blueprint
from functions.outbound import blueprint as outbound_blueprint
from functions.tickets import blueprint as tickets_blueprint

app = func.FunctionApp()
app.register_functions(fetch_blueprint)
app.register_functions(outbound_blueprint)
app.register_functions(tickets_blueprint)
