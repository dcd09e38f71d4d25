"""Name, nickname and address material for demo people, prescribers and pharmacies.

The lists mix the names a Utah PMP really sees: Anglo and Scandinavian pioneer surnames, Hispanic names
with their accents, Pacific Islander and Vietnamese surnames, and the punctuation that trips matchers:
apostrophes (O'Brien), hyphens (Garcia-Lopez) and spaces (Van Wagoner). Only letters that lose their
accents under NFKD folding are used (no ø, ł or ß), so "diacritics dropped" is always a clean variant.
``NICKNAMES`` only holds pairs that a standard nickname table has, the ones a careful matcher should join.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from types import MappingProxyType

# Compact tables: one name a line would make this file ten times longer for no reader.
# fmt: off
FEMALE_FIRST_NAMES: tuple[str, ...] = (
    "Abigail", "Alexandra", "Alice", "Amanda", "Amber", "Amelia", "Amy", "Andrea", "Angela", "Anna",
    "Ashley", "Barbara", "Beatriz", "Brenda", "Brittany", "Camila", "Carmen", "Carol", "Caroline",
    "Catherine", "Chelsea", "Chloé", "Christina", "Christine", "Cynthia", "Deborah", "Denise", "Diana",
    "Donna", "Dorothy", "Elena", "Elizabeth", "Ellen", "Emily", "Emma", "Erin", "Esperanza", "Evelyn",
    "Frances", "Gabriela", "Grace", "Guadalupe", "Hannah", "Heather", "Helen", "Inés", "Isabel", "Jacqueline",
    "Janet", "Jennifer", "Jessica", "Joan", "Josefina", "Judith", "Julia", "Julie", "Karen", "Katherine",
    "Kathleen", "Kelly", "Kimberly", "Laura", "Lauren", "Leilani", "Linda", "Lisa", "Lucía", "Luisa",
    "Madison", "Malia", "Margaret", "María", "Marie", "Marilyn", "Martha", "Mary", "Megan", "Melissa",
    "Michelle", "Mónica", "Nancy", "Natalie", "Nicole", "Olivia", "Pamela", "Patricia", "Rachel", "Rebecca",
    "Renée", "Rocío", "Rose", "Ruth", "Samantha", "Sandra", "Sarah", "Sharon", "Sofía", "Stephanie",
    "Susan", "Teresa", "Theresa", "Linh", "Tiffany", "Valerie", "Verónica", "Victoria", "Virginia", "Wendy",
    "Zoë", "Ximena", "Yolanda", "Kalena", "Mele", "Lose", "Ana", "Beatrice", "Colette", "Eliza",
)

MALE_FIRST_NAMES: tuple[str, ...] = (
    "Aaron", "Adam", "Adrián", "Alan", "Albert", "Alejandro", "Alexander", "Andrés", "Andrew", "André",
    "Ángel", "Anthony", "Arthur", "Benjamin", "Brandon", "Brian", "Bryce", "Carlos", "Charles", "Christopher",
    "Daniel", "David", "Dennis", "Donald", "Douglas", "Dylan", "Edward", "Eduardo", "Eric", "Ethan",
    "Francisco", "Frank", "Frederick", "Gary", "George", "Gerald", "Gregory", "Harold", "Héctor", "Henry",
    "Isaac", "Jack", "Jacob", "James", "Jason", "Jeffrey", "Jeremy", "Jesús", "Joaquín", "John",
    "Jonathan", "Jordan", "José", "Joseph", "Joshua", "Juan", "Julián", "Justin", "Keith", "Kenneth",
    "Kevin", "Lawrence", "Logan", "Luis", "Manuel", "Mark", "Martín", "Matthew", "Michael", "Minh",
    "Nathan", "Nicholas", "Nicolás", "Noé", "Óscar", "Patrick", "Paul", "Peter", "Philip", "Ramón",
    "Raúl", "Raymond", "Richard", "Robert", "Roger", "Ronald", "Rubén", "Russell", "Samuel", "Scott",
    "Sebastián", "Sione", "Stephen", "Steven", "Taniela", "Terry", "Thomas", "Timothy", "Tomás", "Tevita",
    "Tyler", "Victor", "Walter", "Wayne", "William", "Zachary", "Quang", "Heber", "Parley", "Orrin",
    "Brigham", "Lorenzo", "Emilio", "Mateo", "Diego", "Sergio", "Ricardo", "Fernando", "Gustavo", "Rafael",
)

LAST_NAMES: tuple[str, ...] = (
    # common across the US
    "Adams", "Allen", "Anderson", "Bailey", "Baker", "Barnes", "Bell", "Bennett", "Brooks", "Brown",
    "Butler", "Campbell", "Carter", "Clark", "Collins", "Cook", "Cooper", "Cox", "Davis", "Edwards",
    "Evans", "Fisher", "Foster", "Gray", "Green", "Hall", "Harris", "Hayes", "Hill", "Howard",
    "Hughes", "Jackson", "James", "Johnson", "Jones", "Kelly", "King", "Lee", "Lewis", "Long",
    "Martin", "Miller", "Mitchell", "Moore", "Morgan", "Morris", "Murphy", "Myers", "Nelson", "Parker",
    "Perry", "Phillips", "Powell", "Price", "Reed", "Roberts", "Robinson", "Rogers", "Ross", "Russell",
    "Sanders", "Scott", "Stewart", "Sullivan", "Thomas", "Thompson", "Turner", "Walker", "Ward", "Watson",
    "White", "Williams", "Wilson", "Wood", "Wright", "Young", "Smith", "Taylor", "Brady", "Hunt",
    # Utah pioneer and Scandinavian surnames
    "Allred", "Ashby", "Bingham", "Bowen", "Call", "Cannon", "Christensen", "Christiansen", "Cluff", "Dalton",
    "Eyring", "Farnsworth", "Hale", "Hansen", "Hatch", "Hinckley", "Hyde", "Jensen", "Kimball", "Larsen",
    "Larson", "Lyman", "Madsen", "Nielsen", "Olsen", "Pack", "Petersen", "Poulsen", "Pratt", "Richards",
    "Romney", "Rasmussen", "Snow", "Sorensen", "Stoddard", "Thorne", "Udall", "Whitmer", "Woolley", "Draper",
    # Hispanic surnames, with their accents
    "Álvarez", "Castillo", "Castro", "Chávez", "Cruz", "Díaz", "Domínguez", "Flores", "García", "Gómez",
    "González", "Gutiérrez", "Guzmán", "Hernández", "Ibáñez", "Jiménez", "López", "Martínez", "Medina", "Mendoza",
    "Morales", "Muñoz", "Navarro", "Núñez", "Ortega", "Ortiz", "Peña", "Pérez", "Ramírez", "Ramos",
    "Reyes", "Ríos", "Rodríguez", "Romero", "Ruiz", "Salazar", "Sánchez", "Soto", "Torres", "Vásquez",
    "Vargas", "Velásquez", "Aguilar", "Delgado", "Fuentes", "Herrera", "Juárez", "Márquez", "Valdez", "Zamora",
    # Pacific Islander and Vietnamese surnames
    "Fifita", "Fonoti", "Havili", "Kauhane", "Lolohea", "Mahe", "Taufa", "Tuilagi", "Vake", "Faleolo",
    "Nguyen", "Tran", "Le", "Pham", "Huynh", "Vo", "Dang", "Bui",
    # punctuation that matchers must handle
    "O'Brien", "O'Connor", "O'Neil", "D'Angelo", "O'Malley", "O'Donnell", "D'Souza", "McDonald", "MacArthur",
    "McKay", "Garcia-Lopez", "Smith-Jones", "Hernández-Ruiz", "Taylor-Wright", "Pérez-Gómez", "Martin-Young",
    "Van Wagoner", "De La Cruz", "Del Rio", "Van Dam",
)

MIDDLE_NAMES_FEMALE: tuple[str, ...] = (
    "Ann", "Anne", "Beth", "Grace", "Jane", "Jean", "Kay", "Lee", "Louise", "Lynn", "Marie", "May", "Rose",
    "Ruth", "Sue", "Elena", "Isabel", "Lucía", "Noelani", "Joy",
)
MIDDLE_NAMES_MALE: tuple[str, ...] = (
    "Alan", "Allen", "Dean", "Edward", "Gene", "James", "Jay", "John", "Lee", "Michael", "Paul", "Ray",
    "Scott", "Wayne", "Antonio", "José", "Luis", "Manuel", "Kalani", "Orson",
)

NICKNAMES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "Abigail": ("Abby",), "Alexandra": ("Alex",), "Alexander": ("Alex",), "Albert": ("Al",),
        "Andrew": ("Andy", "Drew"), "Anthony": ("Tony",), "Barbara": ("Barb",), "Benjamin": ("Ben",),
        "Catherine": ("Cathy", "Kate"), "Charles": ("Chuck", "Charlie"), "Christina": ("Tina", "Chris"),
        "Christine": ("Chris",), "Christopher": ("Chris",), "Cynthia": ("Cindy",), "Daniel": ("Dan", "Danny"),
        "Deborah": ("Debbie", "Deb"), "Donald": ("Don",), "Dorothy": ("Dottie",), "Douglas": ("Doug",),
        "Edward": ("Ed", "Ted"), "Elizabeth": ("Liz", "Beth", "Betty"), "Frederick": ("Fred",),
        "Gerald": ("Jerry",), "Gregory": ("Greg",), "Harold": ("Hal",), "Henry": ("Hank",),
        "Jacqueline": ("Jackie",), "Jacob": ("Jake",), "James": ("Jim", "Jimmy"), "Jeffrey": ("Jeff",),
        "Jennifer": ("Jen", "Jenny"), "Jessica": ("Jess",), "John": ("Jack",), "Jonathan": ("Jon",),
        "Joseph": ("Joe",), "Joshua": ("Josh",), "Judith": ("Judy",), "Katherine": ("Kathy", "Kate"),
        "Kathleen": ("Kathy",), "Kenneth": ("Ken",), "Kimberly": ("Kim",), "Lawrence": ("Larry",),
        "Margaret": ("Peggy", "Maggie", "Meg"), "Matthew": ("Matt",), "Michael": ("Mike",),
        "Nathan": ("Nate",), "Nicholas": ("Nick",), "Pamela": ("Pam",), "Patricia": ("Pat", "Patty"),
        "Peter": ("Pete",), "Philip": ("Phil",), "Raymond": ("Ray",), "Rebecca": ("Becky",),
        "Richard": ("Rick", "Dick"), "Robert": ("Bob", "Rob", "Bobby"), "Ronald": ("Ron",),
        "Samantha": ("Sam",), "Samuel": ("Sam",), "Stephen": ("Steve",), "Steven": ("Steve",),
        "Susan": ("Sue",), "Theresa": ("Terry",), "Thomas": ("Tom", "Tommy"), "Timothy": ("Tim",),
        "Victoria": ("Vicky", "Tori"), "Virginia": ("Ginny",), "William": ("Bill", "Will", "Billy"),
        "Zachary": ("Zach",),
    }
)
# fmt: on

# (city, ZIP codes that city uses); ZIP codes from USPS assignments for those Utah cities.
UTAH_CITIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Salt Lake City", ("84101", "84102", "84103", "84104", "84105", "84106", "84108", "84109", "84111", "84115")),
    ("West Valley City", ("84119", "84120", "84128")),
    ("Provo", ("84601", "84604", "84606")),
    ("Orem", ("84057", "84058", "84097")),
    ("Sandy", ("84070", "84092", "84093", "84094")),
    ("Ogden", ("84401", "84403", "84404", "84405")),
    ("St. George", ("84770", "84790")),
    ("West Jordan", ("84084", "84088")),
    ("Layton", ("84040", "84041")),
    ("Lehi", ("84043",)),
    ("Logan", ("84321",)),
    ("Murray", ("84107", "84123")),
    ("Draper", ("84020",)),
    ("Bountiful", ("84010",)),
    ("Riverton", ("84065",)),
    ("South Jordan", ("84095",)),
    ("Taylorsville", ("84129", "84118")),
    ("Herriman", ("84096",)),
    ("American Fork", ("84003",)),
    ("Pleasant Grove", ("84062",)),
    ("Spanish Fork", ("84660",)),
    ("Springville", ("84663",)),
    ("Cedar City", ("84720",)),
    ("Kaysville", ("84037",)),
    ("Roy", ("84067",)),
    ("Clearfield", ("84015",)),
    ("Tooele", ("84074",)),
    ("Park City", ("84060", "84098")),
    ("Heber City", ("84032",)),
    ("Brigham City", ("84302",)),
    ("Vernal", ("84078",)),
    ("Price", ("84501",)),
    ("Moab", ("84532",)),
    ("Richfield", ("84701",)),
    ("Hurricane", ("84737",)),
    ("Midvale", ("84047",)),
    ("Holladay", ("84117",)),
    ("Magna", ("84044",)),
    ("Eagle Mountain", ("84005",)),
    ("Saratoga Springs", ("84045",)),
)

# fmt: off
NAMED_STREETS: tuple[str, ...] = (
    "Main St", "State St", "Center St", "Redwood Rd", "Highland Dr", "University Ave", "Bangerter Hwy",
    "Wasatch Blvd", "Fort Union Blvd", "Foothill Dr", "Canyon Rd", "Washington Blvd", "Harrison Blvd",
    "Sunset Blvd", "Bluff St", "Cottonwood Pkwy", "Timpanogos Hwy", "Mountain View Cir", "Sego Lily Dr",
    "Pioneer Rd", "Emigration Canyon Rd", "Parleys Way", "Lone Peak Pkwy", "Dixie Dr", "Red Cliffs Dr",
)

PHARMACY_NAMES: tuple[str, ...] = (
    "Wasatch Family Pharmacy", "Bonneville Drug", "Red Rock Pharmacy", "Timpanogos Apothecary",
    "Cache Valley Pharmacy", "Dixie Drug", "Uinta Basin Pharmacy", "Beehive Pharmacy", "Canyon Rim Pharmacy",
    "Golden Spike Pharmacy", "Zion Gateway Pharmacy", "Arches Pharmacy", "Kolob Pharmacy", "Sego Lily Pharmacy",
    "Bear River Drug", "Jordan River Pharmacy", "Provo River Pharmacy", "Big Cottonwood Pharmacy",
    "Deseret Peak Pharmacy", "Skyline Pharmacy", "Sugar House Pharmacy", "Capitol Hill Apothecary",
    "Ensign Peak Pharmacy", "Antelope Island Drug", "Willow Creek Pharmacy", "Lone Peak Pharmacy",
    "Hobble Creek Pharmacy", "Snow Canyon Pharmacy", "Pineview Pharmacy", "Logan Peak Pharmacy",
    "Mount Ogden Pharmacy", "Oquirrh Mountain Drug",
)
# fmt: on


def fold_diacritics(text: str) -> str:
    """``José Muñoz`` → ``Jose Munoz``: what a pharmacy system limited to ASCII stores."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def name_key(text: str) -> str:
    """Letters only, folded and lower-cased: the form under which two spellings are the same name."""
    return "".join(c for c in fold_diacritics(text).lower() if c.isalpha())
