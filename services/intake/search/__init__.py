"""Workers' ticket search over text, building, ticket number and resolution, in the ticket database."""
