"""Word lists the world is built from: names, places, professions, organisations.

Everything here is fiction on purpose: cities and organisations are invented, so that what a
model trained on the tiny world knows about them can only come from the tiny world's pages.
Countries are real (they give names and spelling a Portuguese or English flavour).
"""

# Countries: (id, language group, name pt, "in <country>" pt, name en).
COUNTRIES = [
    ("br", "pt", "Brasil", "no Brasil", "Brazil"),
    ("pt", "pt", "Portugal", "em Portugal", "Portugal"),
    ("ao", "pt", "Angola", "em Angola", "Angola"),
    ("mz", "pt", "Moçambique", "em Moçambique", "Mozambique"),
    ("cv", "pt", "Cabo Verde", "em Cabo Verde", "Cape Verde"),
    ("us", "en", "Estados Unidos", "nos Estados Unidos", "the United States"),
    ("gb", "en", "Reino Unido", "no Reino Unido", "the United Kingdom"),
    ("ca", "en", "Canadá", "no Canadá", "Canada"),
    ("au", "en", "Austrália", "na Austrália", "Australia"),
    ("ie", "en", "Irlanda", "na Irlanda", "Ireland"),
    ("nz", "en", "Nova Zelândia", "na Nova Zelândia", "New Zealand"),
]

FIRST_PT = {
    "f": ["Maria", "Ana", "Beatriz", "Camila", "Daniela", "Eduarda", "Fernanda", "Gabriela", "Helena",
          "Isabela", "Juliana", "Larissa", "Luana", "Mariana", "Natália", "Patrícia", "Rafaela", "Sofia",
          "Tatiana", "Vitória", "Yasmin", "Adriana", "Bruna", "Carolina", "Débora", "Elisa", "Flávia",
          "Giovana", "Heloísa", "Inês", "Joana", "Lívia", "Manuela", "Nádia", "Olívia", "Paula",
          "Raquel", "Sílvia", "Teresa", "Vera", "Alice", "Cecília", "Lúcia", "Marta", "Rita", "Leonor"],
    "m": ["João", "Pedro", "Lucas", "Gabriel", "Rafael", "Miguel", "Tiago", "Bruno", "Carlos", "Diego",
          "Eduardo", "Felipe", "Gustavo", "Henrique", "Igor", "Júlio", "Leonardo", "Marcelo", "Nuno",
          "Otávio", "Paulo", "Ricardo", "Sérgio", "Vinícius", "André", "Bernardo", "Caio", "Davi",
          "Fábio", "Guilherme", "Hugo", "Joaquim", "Luís", "Mateus", "Renato", "Rodrigo", "Samuel",
          "Vasco", "Afonso", "Duarte", "Gonçalo", "Rui", "Tomás", "Álvaro", "Jorge", "Manuel"],
}
SURNAMES_PT = [
    "Silva", "Santos", "Oliveira", "Souza", "Pereira", "Costa", "Rodrigues", "Almeida", "Nascimento",
    "Lima", "Araújo", "Fernandes", "Carvalho", "Gomes", "Martins", "Rocha", "Ribeiro", "Alves",
    "Monteiro", "Mendes", "Barros", "Freitas", "Barbosa", "Pinto", "Moura", "Cavalcanti", "Dias",
    "Castro", "Campos", "Cardoso", "Teixeira", "Correia", "Vieira", "Nunes", "Moreira", "Machado",
    "Lopes", "Marques", "Ramos", "Sousa", "Figueiredo", "Macedo", "Queiroz", "Tavares", "Brandão",
    "Coelho", "Fonseca", "Guimarães", "Leite", "Magalhães", "Pacheco", "Rezende", "Siqueira",
    "Valente", "Xavier", "Amaral", "Bastos", "Cunha", "Duarte", "Esteves", "Falcão", "Lacerda",
    "Meireles", "Noronha", "Peixoto", "Quintela", "Sampaio", "Toledo", "Vasconcelos", "Aguiar",
]
FIRST_EN = {
    "f": ["Emma", "Olivia", "Ava", "Sophia", "Isabella", "Charlotte", "Amelia", "Mia", "Harper",
          "Evelyn", "Abigail", "Emily", "Elizabeth", "Sofia", "Ella", "Madison", "Scarlett", "Grace",
          "Chloe", "Victoria", "Riley", "Aria", "Lily", "Hannah", "Zoe", "Nora", "Lucy", "Eleanor",
          "Alice", "Ruby", "Claire", "Fiona", "Megan", "Sarah", "Laura", "Rachel", "Rose", "Jane",
          "Helen", "Margaret", "Catherine", "Anne", "Louise", "Bridget", "Siobhan", "Kate"],
    "m": ["Liam", "Noah", "Oliver", "Elijah", "James", "William", "Benjamin", "Lucas", "Henry",
          "Alexander", "Mason", "Michael", "Ethan", "Daniel", "Jacob", "Logan", "Jackson", "Samuel",
          "Sebastian", "Jack", "Owen", "Thomas", "Charles", "George", "Edward", "Arthur", "Harry",
          "Oscar", "Patrick", "Sean", "Connor", "Ryan", "David", "Robert", "John", "Peter", "Andrew",
          "Matthew", "Simon", "Richard", "Frank", "Walter", "Hugh", "Rowan", "Angus", "Callum"],
}
SURNAMES_EN = [
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson", "Anderson",
    "Taylor", "Thomas", "Moore", "Martin", "Jackson", "Thompson", "White", "Harris", "Clark",
    "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright", "Scott", "Hill", "Green",
    "Adams", "Baker", "Nelson", "Carter", "Mitchell", "Roberts", "Turner", "Phillips", "Campbell",
    "Parker", "Evans", "Edwards", "Collins", "Stewart", "Morris", "Murphy", "Cook", "Rogers",
    "Morgan", "Cooper", "Peterson", "Reed", "Bailey", "Bell", "Kelly", "Howard", "Ward", "Cox",
    "Brooks", "Gray", "Hughes", "Price", "Sanders", "Bennett", "Wood", "Barnes", "Ross",
    "Henderson", "Coleman", "Jenkins", "Perry", "Powell", "Long", "Fletcher", "Gallagher", "Walsh",
    "O'Brien", "Byrne", "Fraser", "MacLeod", "Sinclair", "Whitaker", "Ashworth", "Pemberton",
]

# Invented city names: pt from a prefix + a base (often Tupi-sounding) + a suffix; en from two parts.
CITY_PT_PREFIX = ["", "", "", "São ", "Santa ", "Vila ", "Porto ", "Nova ", "Campo ", "Serra ", "Monte "]
CITY_PT_BASE = [
    "Itaquara", "Jacarandá", "Ibirapema", "Tamboré", "Aracema", "Curimbaba", "Itapoã", "Guaraciaba",
    "Piracema", "Jutaí", "Caraguá", "Anhumas", "Ubirajara", "Tapiraí", "Juriti", "Ipoema", "Bacuri",
    "Mirassol", "Candeias", "Alvorada", "Esperança", "Boaventura", "Rosário", "Vale Verde",
    "Pedra Branca", "Águas Claras", "Lagoa Funda", "Ribeira", "Cruzeiro", "Alecrim", "Sabiá",
    "Ventania", "Quixadá", "Maracaí", "Inhumas", "Arapongas", "Tabuleiro", "Belmira", "Oriente",
]
CITY_PT_SUFFIX = ["", "", "", "", " do Sul", " do Norte", " das Flores", " da Serra", " do Rio", " de Cima"]
CITY_EN_A = ["Ash", "Mill", "Thorn", "Oak", "Elm", "Black", "Red", "Green", "Stone", "Fair", "Brigh",
             "Cold", "Hazel", "Maple", "Wil", "Hol", "Bram", "Fern", "Lark", "Wren", "Kings", "Queens",
             "North", "West", "Silver", "Rook", "Marsh", "Brook", "Glen", "Pine"]
CITY_EN_B = ["ford", "brook", "bridge", "field", "ton", "wick", "bury", "haven", "port", "dale",
             "mere", "stead", "worth", "gate", "holm", "ley", "combe", "by", "moor", "hurst"]

PROFESSIONS = [  # (id, pt masculine, pt feminine, en)
    ("engineer", "engenheiro", "engenheira", "engineer"),
    ("doctor", "médico", "médica", "physician"),
    ("teacher", "professor", "professora", "teacher"),
    ("lawyer", "advogado", "advogada", "lawyer"),
    ("architect", "arquiteto", "arquiteta", "architect"),
    ("journalist", "jornalista", "jornalista", "journalist"),
    ("nurse", "enfermeiro", "enfermeira", "nurse"),
    ("writer", "escritor", "escritora", "writer"),
    ("painter", "pintor", "pintora", "painter"),
    ("pharmacist", "farmacêutico", "farmacêutica", "pharmacist"),
    ("economist", "economista", "economista", "economist"),
    ("biologist", "biólogo", "bióloga", "biologist"),
    ("physicist", "físico", "física", "physicist"),
    ("historian", "historiador", "historiadora", "historian"),
    ("photographer", "fotógrafo", "fotógrafa", "photographer"),
    ("pilot", "piloto", "pilota", "pilot"),
    ("chemist", "químico", "química", "chemist"),
    ("geologist", "geólogo", "geóloga", "geologist"),
    ("translator", "tradutor", "tradutora", "translator"),
    ("composer", "compositor", "compositora", "composer"),
]

# Organisations: (kind id, pt pattern, en pattern, industry pt, industry en); {b} is a brand word.
ORG_KINDS = [
    ("builder", "Construtora {b}", "{b} Construction", "construção civil", "construction"),
    ("bank", "Banco {b}", "{b} Bank", "serviços financeiros", "banking"),
    ("publisher", "Editora {b}", "{b} Press", "edição de livros", "publishing"),
    ("lab", "Laboratório {b}", "{b} Laboratories", "indústria farmacêutica", "pharmaceuticals"),
    ("software", "{b} Sistemas", "{b} Software", "tecnologia da informação", "software"),
    ("airline", "Companhia Aérea {b}", "{b} Airways", "aviação", "aviation"),
    ("food", "Alimentos {b}", "{b} Foods", "produção de alimentos", "food processing"),
    ("energy", "{b} Energia", "{b} Energy", "energia", "energy"),
    ("textile", "Tecelagem {b}", "{b} Textiles", "indústria têxtil", "textiles"),
    ("shipyard", "Estaleiro {b}", "{b} Shipyards", "construção naval", "shipbuilding"),
]
BRANDS_PT = ["Horizonte", "Aurora", "Vitalis", "Atlântica", "Boreal", "Cruzeiro do Sul", "Ipê",
             "Jequitibá", "Estrela", "Mar Aberto", "Nova Era", "Pioneira", "Solaris", "Tupã",
             "Vértice", "Brisa", "Cordilheira", "Farol", "Girassol", "Lusitana", "Palmares", "Quasar",
             "Rubi", "Safira", "Timbó", "Andorinha", "Bandeirante", "Caravela", "Esmeralda", "Guará"]
BRANDS_EN = ["Northgate", "Brightwater", "Harlow", "Silverline", "Redwood", "Blue Harbour", "Summit",
             "Ironbridge", "Keystone", "Lighthouse", "Meridian", "Oakridge", "Pinnacle", "Riverside",
             "Sterling", "Thornbury", "Westbrook", "Evergreen", "Falcon", "Granite", "Highland",
             "Juniper", "Kestrel", "Larkspur", "Moorland", "Osprey", "Pembroke", "Quarry", "Ravenscroft",
             "Tidewater"]
BRAND_SUFFIX = {"pt": ["Nova", "do Sul", "do Norte", "Brasil", "Global", "Atlântico", "Real", "Central", "Litoral", "Serrana"],
                "en": ["Global", "North", "South", "Atlantic", "Pacific", "United", "Royal", "Central", "Coastal", "Highland"]}
