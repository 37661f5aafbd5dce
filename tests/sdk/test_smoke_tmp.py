from capturehub import Client
def test_smoke(server, project_name, watch_files):
    c = Client(server=server.url, username=server.username, password=server.password)
    c.project = project_name
    cap = c.project.captures.create_capture("Capture Name", watch_files[0])
    print(cap, cap.await_ready(sleep=0.1))
    print(c.list_captures())
    print(c.list_projects())
    print(cap.statistics)
    df = cap.get_data()
    print(df.head(), len(df))
