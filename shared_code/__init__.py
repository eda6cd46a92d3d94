"""deskmail: the email side of a helpdesk, as an Azure Functions app.

`domain` is plain Python (tickets, threading, auto-reply rules, MIME content);
`adapters` wrap Azure Storage, Microsoft Graph and Key Vault behind small classes;
`pipeline` holds the inbound rules in their visible order; `services` compose them.
"""
